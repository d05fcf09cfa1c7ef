"""Run a module as `python -m` would, then write its wall time and peak resident set to a JSON file.

    python bench/measure.py OUT.json -m custody_cli verify --db sqlite:///...

It also writes the CPU time the command used, its own and its finished child processes' (the
workers of `custody verify`): on a machine that other work keeps busy, CPU time per entry says
more than the wall clock.

The peak is VmHWM from /proc/self/status: the high-water mark of this process's own address space.
(ru_maxrss from wait4 would not do: on Linux, exec folds the forking parent's resident set into the
child's ru_maxrss, so every child of a large benchmark process would look as large as its parent.)
"""

from __future__ import annotations

import json
import resource
import runpy
import sys
import time
from pathlib import Path


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def _cpu_seconds() -> float:
    used = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: measure.py OUT.json -m MODULE [ARGS...]")
    sys.argv = [module, *rest]
    started, cpu = time.perf_counter(), _cpu_seconds()
    code: object = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code or 0
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    report = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_kib": peak_rss_kib()}
    Path(out).write_text(json.dumps(report))
    sys.stdout.flush()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
