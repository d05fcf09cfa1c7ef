"""Serve one side of the HTTP ingest benchmark on a loopback port (started by bench/run.py in its
own process, so the client and the server do not share one interpreter lock).

    python bench/serve.py ledger <CUSTODY_DB url> <port>
    python bench/serve.py plain '<eventsourcing env as JSON>' <port>

The Ledger side is `api.main.create_app` over an initialised store (its read models followed by a
thread, as under `custody serve`), with the benchmark's fixed clock
(the synthetic programme's dates are relative to it) and the run's log key (BENCH_LOG_KEY, the key
text, which signs each entry's receipt); access logs are off on both sides.

With BENCH_SERVER_PROFILE=<file>, the server profiles itself with cProfile: the event loop's thread,
and every call FastAPI hands to its thread pool (the sync routes and dependencies, where the Ledger
runs), merged into <file> when the server stops.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import baseline
import fastapi.dependencies.utils
import fastapi.routing
import uvicorn
from synth import NOW

from api.main import FOLLOW_INTERVAL, create_app
from ledger.application import open_ledger
from ledger.integrity.signing import Signer
from ledger.store.config import Config


def main() -> None:
    side, store, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if side == "ledger":
        key = Signer.from_text(os.environ["BENCH_LOG_KEY"])  # the run's key, as open_ledger's
        app = create_app(  # its read models followed as under `custody serve` (api/follower.py)
            open_ledger(Config(db=store), clock=lambda: NOW, signer=key),
            follow_interval=FOLLOW_INTERVAL,
        )
    else:
        app = baseline.create_http_app(baseline.open_plain(json.loads(store), create=False))
    target = os.environ.get("BENCH_SERVER_PROFILE")
    profilers = _profile_thread_pool() if target else []
    if target:  # uvicorn raises the SIGTERM again once it has shut down: let it pass, then dump
        signal.signal(signal.SIGTERM, lambda *_: None)
    with cProfile.Profile() if target else _Nothing() as main_thread:
        # http and loop "auto": httptools and uvloop when installed, as under `custody serve`
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    if target:
        stats = pstats.Stats(main_thread)
        for profiler in profilers:
            stats.add(profiler)
        stats.dump_stats(target)


def _profile_thread_pool() -> list[cProfile.Profile]:
    profilers: list[cProfile.Profile] = []
    local = threading.local()
    original = fastapi.routing.run_in_threadpool

    def profiled(func: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            profiler = getattr(local, "profiler", None)
            if profiler is None:
                profiler = local.profiler = cProfile.Profile()
                profilers.append(profiler)
            profiler.enable()
            try:
                return func(*args, **kwargs)
            finally:
                profiler.disable()

        return call

    async def run_in_threadpool(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await original(profiled(func), *args, **kwargs)

    fastapi.routing.run_in_threadpool = run_in_threadpool  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = run_in_threadpool  # type: ignore[assignment]
    return profilers


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


if __name__ == "__main__":
    main()
