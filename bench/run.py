"""The benchmark suite: each figure against a plain eventsourcing application doing the same work on
the same kind of store (or reading the very same store) in the same run, with the ratio and the
target of the "Scale and speed" issue. Not a test: run it by hand (docs/performance.md).

    .venv/bin/python bench/run.py --items 5000 [--db sqlite|postgres]
        [--only ingest,custody,report,proofs,verify,paging,overview] [--profile [SECTIONS]]
        [--json FILE]

Sections:
  ingest   events/s through the Ledger's single writes, through `Ledger.save` of many aggregates
           per transaction (the recorder path; see bench/synth.py), and over HTTP
           (uvicorn serving api.main.create_app, an httpx client, --http-requests requests), each
           on a fresh store of --sample items, against the plain application doing the same, the
           two sides taking turns so that both see the same machine load; then, if the programme
           store is built, single writes appended to it (--scale-sample items)
  custody  Ledger.custody_at for one item with 10 and with 1,000 events, p50 and p99
  report   policies.engine.unaccounted_report over the whole programme, as of the clock's date
  proofs   Ledger.tlog.inclusion_proof and .consistency_proof at the full log size, p50 and p99
  verify   `custody verify` in a subprocess: entries/s and peak RSS (VmHWM, bench/measure.py)
  readmodels  the read models' rebuild and catch-up, the stored accounts' catch-up (entries/s),
           and custody at T over HTTP for the item with 1,000 events (bench/readmodels.py);
           run last: it appends --scale-sample items to the programme store
  paging   pages of an item with 3,000 entries through the API in process: its history and its
           evidence entries, 100 a page, each page's time (docs/api.md, "Paging")
  overview GET /ui, the dashboard's overview, on the 3,000-item demo programme in a fresh store,
           in process in a signed-in session, p50 (docs/performance.md, "Dashboard overview")

The programme store the last four sections share has --items items of --events-per-item events,
built through the Ledger's mapper and log recorder in batches (bench/synth.py, `write_bulk`).

More sections register themselves with `@section(NAME)` (see `section`) and report each figure
against its target with `out.report(section, name, value, target, unit, higher_is_better=...)`;
the run ends with a summary of every figure that has a target, PASS or MISS.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import baseline
import eventsourcing
import httpx
import psycopg
import readmodels
import synth

import ledger.application as application
from ledger.application.ledger import Ledger
from ledger.integrity import merkle
from ledger.integrity.signing import (
    Signer,
    generate_signer_key,
    read_private_key_file,
    write_private_key_file,
)
from ledger.readmodels import custody as readmodel_custody
from ledger.readmodels.derived import check_read_models
from ledger.readmodels.models import Fleet
from ledger.store.config import DEFAULT_ORIGIN, Config
from policies.audit import check_accounts
from policies.config import PolicyConfig
from policies.engine import Scope, accounts, reference_accounts, unaccounted_report

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SECTIONS = ("ingest", "custody", "report", "proofs", "verify")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1024 * 1024
REPORT_TARGET_ITEMS = 250_000
PROOF_TARGET_LEAVES = 1_000_000
VERIFY_MEMORY_BOUND_MIB = 64
WARMUP_ITEMS = 10  # sent to each server first, not timed
INTERLEAVE_ITEMS = 250  # the plain and the Ledger side take turns, this many items at a time


# Stores ---------------------------------------------------------------------------------------


@dataclass
class Store:
    url: str  # CUSTODY_DB
    env: dict[str, str]  # the plain application's eventsourcing settings for the same store


@dataclass
class Stores:
    kind: str
    tmp: Path
    schemas: list[str] = field(default_factory=list)

    def new(self, name: str) -> Store:
        if self.kind == "sqlite":
            path = self.tmp / f"{name}.db"
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
            return Store(f"sqlite:///{path}", env)
        schema = f"bench_{name.replace('-', '_')}_{uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": "test",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            "POSTGRES_SCHEMA": schema,
        }
        return Store(f"{POSTGRES}?schema={schema}", env)

    def drop(self) -> None:
        if not self.schemas:
            return
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


LOG_KEY = Signer.from_text(generate_signer_key(DEFAULT_ORIGIN))
"""The log key of the run's stores but the programme's: it signs every entry's receipt."""


def open_ledger(store: Store, *, create: bool = False, signer: Signer | None = None) -> Ledger:
    """The run's store, opened where every entry point opens one (ledger/application/wiring.py)."""
    return application.open_ledger(
        Config(db=store.url),
        clock=lambda: synth.NOW,
        create_tables=create,
        signer=signer or LOG_KEY,
    )


# Results --------------------------------------------------------------------------------------


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    target: str = ""
    verdict: str = ""  # PASS, MISS, or "" when no target applies
    gap: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


class Results:
    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.facts: dict[str, Any] = {}

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(_line(figure), flush=True)
        return figure

    def info(self, text: str) -> None:
        print(f"  . {text}", flush=True)

    def report(
        self,
        section: str,
        name: str,
        value: float,
        target: float,
        unit: str,
        *,
        higher_is_better: bool,
        note: str = "",
        baseline: float | None = None,
        baseline_what: str = "",
    ) -> Figure:
        """Add and print one figure against its target, PASS or MISS: the one way a section
        reports a target it is measured against (`value >= target` when higher is better, else
        `value < target`)."""
        if higher_is_better:
            verdict, gap = at_least(value, target, f" {unit}")
            wanted = f">= {target:,g} {unit}"
        else:
            verdict, gap = under(value, target, unit)
            wanted = f"< {target:,g} {unit}"
        figure = Figure(section, name, value, unit, baseline, baseline_what, wanted, verdict, gap)
        figure.note = note
        return self.add(figure)

    def summary(self) -> None:
        """Every figure that has a target, again, one line each: the run's PASS/MISS table."""
        judged = [f for f in self.figures if f.verdict]
        if not judged:
            return
        print("\nsummary: every target of this run", flush=True)
        for f in judged:
            shown = f"{_num(f.value)} {f.unit}"
            if f.ratio is not None:
                shown += f" (ratio {f.ratio:.2f})"
            print(f"  {f.verdict:16} {f.section:8} {f.name:52} {shown} | target {f.target}")


def _line(f: Figure) -> str:
    text = f"{f.section:8} {f.name:44} {_num(f.value)} {f.unit}"
    if f.baseline is not None:
        text += f" | plain {_num(f.baseline)} {f.unit} ({f.baseline_what}) | ratio {f.ratio:.2f}"
    if f.target:
        text += f" | target {f.target}: {f.verdict or 'n/a'}"
    if f.gap:
        text += f" ({f.gap})"
    if f.note:
        text += f" | {f.note}"
    return text


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def at_least(value: float, target: float, what: str = "") -> tuple[str, str]:
    if value >= target:
        return "PASS", ""
    return "MISS", f"{1 - value / target:.0%} short of {target:g}{what}"


def under(value: float, target: float, unit: str) -> tuple[str, str]:
    if value < target:
        return "PASS", ""
    return "MISS", f"{value / target:.1f}x the {target:g} {unit} target"


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def latencies(calls: Sequence[Callable[[], object]], warmup: int = 5) -> list[float]:
    for call in calls[:warmup]:
        call()
    return [timed(call) * 1000 for call in calls]


# Profiles -------------------------------------------------------------------------------------


def show_profile(label: str, stats: pstats.Stats, top: int = 14) -> list[str]:
    """The top functions by own time, and (the project's and the library's only) by cumulative
    time, as short lines."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = list(raw.items())
    total = sum(v[2] for _, v in rows)
    lines = [f"  profile: {label} (cProfile; {total:.2f} s profiled)"]
    ours = [r for r in rows if _ours(r[0][0])]
    for order, index, chosen in (("own time", 2, rows), ("cumulative, ours", 3, ours)):
        lines.append(f"    top by {order}: ncalls, tottime s, cumtime s, function")
        ranked = sorted(chosen, key=lambda r: r[1][index], reverse=True)[:top]
        for (file, line, func), (_, calls, tottime, cumtime, _) in ranked:
            lines.append(
                f"    {calls:>10,} {tottime:8.3f} {cumtime:8.3f}  {func} ({_short(file)}:{line})"
            )
    for line in lines:
        print(line)
    return lines


def _ours(file: str) -> bool:
    if "/eventsourcing/" in file:
        return True
    return file.startswith(str(ROOT) + "/") and not any(d in file for d in ("/.venv/", "/bench/"))


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def profile_call(label: str, fn: Callable[[], object]) -> list[str]:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    return show_profile(label, pstats.Stats(profiler))


def profile_cli(
    label: str, args: Sequence[str], profile_file: Path, env: dict[str, str]
) -> list[str]:
    """Run `custody ARGS` under cProfile in a process of its own, writing `profile_file`."""
    profiled = [sys.executable, "-m", "cProfile", "-o", str(profile_file), "-m", "custody_cli"]
    subprocess.run([*profiled, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return show_profile(label, pstats.Stats(str(profile_file)))


# Ingest ---------------------------------------------------------------------------------------


def section_ingest(args: argparse.Namespace, stores: Stores, out: Results) -> None:
    sample = list(synth.plans(args.sample, args.events_per_item))
    events = sum(p.events for p in sample)
    out.info(
        f"ingest sample: {len(sample)} items, {events} events, fresh stores ({args.db}); "
        f"the two sides alternate every {INTERLEAVE_ITEMS} items, so both see the same load"
    )
    target = "Ledger >= 0.60 x plain" + (" (set for SQLite)" if args.db != "sqlite" else "")

    app = baseline.open_plain(stores.new("plain-single").env, create=True)
    book = open_ledger(stores.new("ledger-single"), create=True)
    synth.setup(book)
    plain_s, ours_s = interleaved(
        sample,
        lambda chunk: [baseline.write_single(app, p) for p in chunk],
        lambda chunk: [synth.write_single(book, p) for p in chunk],
    )
    app.close()
    book.close()
    _ratio_figure(
        out,
        "single writes (one event per transaction)",
        events / ours_s,
        events / plain_s,
        target,
        "same commands, load + save",
    )

    app = baseline.open_plain(stores.new("plain-bulk").env, create=True)
    book = open_ledger(stores.new("ledger-bulk"), create=True)
    synth.setup(book)
    plain_s, ours_s = interleaved(
        sample,
        lambda chunk: baseline.write_bulk(app, chunk, batch=args.batch),
        lambda chunk: synth.write_bulk(book, iter(chunk), batch=args.batch),
        size=max(args.batch, INTERLEAVE_ITEMS),
    )
    app.close()
    book.close()
    _ratio_figure(
        out,
        f"Ledger.save, {args.batch} items per transaction",
        events / ours_s,
        events / plain_s,
        target,
        "same batches",
        note="recorder path: the commands' lookups that Ledger.batch makes are skipped",
    )

    if args.http_requests:
        _http_ingest(args, stores, out, target)

    if "ingest" in args.profile:
        book = open_ledger(stores.new("ledger-bulk-profile"), create=True)
        synth.setup(book)
        out.facts["profile_ingest_bulk"] = profile_call(
            f"Ledger.save of {len(sample)} items, {args.batch} per transaction",
            lambda: synth.write_bulk(book, iter(sample), batch=args.batch),
        )
        book.close()
        profiled = sample[: min(len(sample), 300)]
        book = open_ledger(stores.new("ledger-profile"), create=True)
        synth.setup(book)
        out.facts["profile_ingest"] = profile_call(
            f"Ledger single writes, {sum(p.events for p in profiled)} events",
            lambda: [synth.write_single(book, p) for p in profiled],
        )
        book.close()


def interleaved(
    plans: Sequence[synth.ItemPlan],
    plain: Callable[[Sequence[synth.ItemPlan]], object],
    ours: Callable[[Sequence[synth.ItemPlan]], object],
    size: int = 0,
) -> tuple[float, float]:
    """Run both sides over the same plans, alternating every `size` items; their total times."""
    size = size or INTERLEAVE_ITEMS
    plain_s = ours_s = 0.0
    for start in range(0, len(plans), size):
        chunk = plans[start : start + size]
        plain_s += timed(lambda c=chunk: plain(c))
        ours_s += timed(lambda c=chunk: ours(c))
    return plain_s, ours_s


def _ratio_figure(
    out: Results,
    name: str,
    ours: float,
    plain: float,
    target: str,
    what: str,
    note: str = "",
) -> None:
    verdict, gap = at_least(ours / plain, 0.60, " of the plain rate")
    out.add(Figure("ingest", name, ours, "events/s", plain, what, target, verdict, gap, note))


def _http_ingest(args: argparse.Namespace, stores: Stores, out: Results, target: str) -> None:
    plans = list(
        synth.plans(max(1, args.http_requests // args.events_per_item), args.events_per_item)
    )
    requests = sum(p.events for p in plans)
    warmup = list(synth.plans(WARMUP_ITEMS, args.events_per_item, first=9_000_000))
    book_store = stores.new("ledger-http")
    book = open_ledger(book_store, create=True)
    token = synth.setup(book)
    book.close()
    plain_store = stores.new("plain-http")
    baseline.open_plain(plain_store.env, create=True).close()
    with (
        _server("ledger", book_store.url) as ledger_base,
        _server("plain", json.dumps(plain_store.env)) as plain_base,
        httpx.Client(base_url=ledger_base, timeout=60) as ledger_client,
        httpx.Client(base_url=plain_base, timeout=60) as plain_client,
    ):
        ledger_client.headers["Authorization"] = f"Bearer {token}"
        _send_ledger(ledger_client, warmup)
        _send_plain(plain_client, warmup)
        plain_s, ours_s = interleaved(
            plans,
            lambda chunk: _send_plain(plain_client, chunk),
            lambda chunk: _send_ledger(ledger_client, chunk),
            size=max(1, INTERLEAVE_ITEMS // 10),
        )
    _ratio_figure(
        out,
        f"HTTP, {requests} sequential requests",
        requests / ours_s,
        requests / plain_s,
        target,
        "FastAPI + uvicorn, same requests",
        note=f"after {WARMUP_ITEMS} items' warm-up; the Ledger side also authenticates the token",
    )
    if "ingest" in args.profile:
        _profile_http(args, stores, out, plans)


def _profile_http(
    args: argparse.Namespace, stores: Stores, out: Results, plans: Sequence[synth.ItemPlan]
) -> None:
    """Again on a fresh store, with the server profiling itself (bench/serve.py)."""
    chosen = plans[: max(1, 300 // args.events_per_item)]
    requests = sum(p.events for p in chosen)
    store = stores.new("ledger-http-profile")
    book = open_ledger(store, create=True)
    token = synth.setup(book)
    book.close()
    profile = stores.tmp / "server.prof"
    with (
        _server("ledger", store.url, profile) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        client.headers["Authorization"] = f"Bearer {token}"
        _send_ledger(client, chosen)
    out.facts["profile_http"] = show_profile(
        f"the API server, {requests} requests", pstats.Stats(str(profile))
    )


@contextlib.contextmanager
def _server(side: str, store: str, profile: Path | None = None) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(HERE / "serve.py"), side, store, str(port)]
    env = os.environ | ({"BENCH_SERVER_PROFILE": str(profile)} if profile else {})
    env["BENCH_LOG_KEY"] = LOG_KEY.to_text()  # for the Ledger side's receipts
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {side} server did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _send_ledger(client: httpx.Client, plans: Sequence[synth.ItemPlan]) -> None:
    for plan in plans:
        body = {**plan.issue, "occurred_at": plan.issued_at.isoformat()}
        item = _post(client, "/v1/items", body)["item_id"]
        for step in plan.steps:
            when = step.occurred_at.isoformat()
            if step.kind == "transfer":
                path, body = "transfers", {"to": step.value, "occurred_at": when}
            elif step.kind == "inspect":
                path, body = (
                    "inspections",
                    {
                        "result": step.value,
                        "method": "physical",
                        "occurred_at": when,
                        "inspector": synth.INSPECTORATE,
                    },
                )
            else:
                path, body = "losses", {"circumstances": step.value, "occurred_at": when}
            _post(client, f"/v1/items/{item}/{path}", body)


def _send_plain(client: httpx.Client, plans: Sequence[synth.ItemPlan]) -> None:
    for plan in plans:
        rifle = _post(client, "/items", {"serial": plan.serial, "holder": plan.recipient})["id"]
        for step in plan.steps:
            _post(client, f"/items/{rifle}/transfers", {"to": step.value})


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


# The programme store --------------------------------------------------------------------------


@dataclass
class Programme:
    store: Store
    key_file: Path
    signer: Signer
    items: int
    events: int
    history_10: synth.ItemPlan
    history_1000: synth.ItemPlan


def build_programme(args: argparse.Namespace, stores: Stores, out: Results) -> Programme:
    store = stores.new("programme")
    signer = Signer.from_text(generate_signer_key(DEFAULT_ORIGIN))
    key_file = stores.tmp / "custody.key"
    write_private_key_file(key_file, signer.to_text())
    book = open_ledger(store, create=True, signer=signer)
    synth.setup(book)
    book.tlog.checkpoint()  # as `custody init` does: the first checkpoint anchors later ones
    long_10 = synth.long_history("BENCH-HIST-10", 10)
    long_1000 = synth.long_history("BENCH-HIST-1000", 1000)
    started = time.perf_counter()
    last_report = [started]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last_report[0] > 30:
            out.info(f"built {done:,} events in {now - started:.0f} s")
            last_report[0] = now

    events = synth.write_bulk(book, iter([long_10, long_1000]), batch=2)
    events += synth.write_bulk(
        book, synth.plans(args.items, args.events_per_item), batch=args.batch, progress=progress
    )
    elapsed = time.perf_counter() - started
    book.tlog.checkpoint()
    size = book.log_store.log_size()
    book.close()
    out.info(
        f"programme: {args.items:,} items + 2 long-history items, {events:,} item events, "
        f"log size {size:,}; built with Ledger.save in batches of {args.batch} items in "
        f"{elapsed:.1f} s ({events / elapsed:,.0f} events/s)"
    )
    out.facts["programme"] = {
        "items": args.items,
        "events_per_item": args.events_per_item,
        "item_events": events,
        "log_size": size,
        "build_seconds": round(elapsed, 1),
    }
    return Programme(store, key_file, signer, args.items, events, long_10, long_1000)


def section_ingest_at_scale(
    args: argparse.Namespace, stores: Stores, prog: Programme, out: Results
) -> None:
    """Single writes appended to the programme store, against the plain application appending to a
    plain store it first filled with as many events (same batches, not timed)."""
    extra = list(synth.plans(args.scale_sample, args.events_per_item, first=args.items))
    events = sum(p.events for p in extra)
    plain_store = stores.new("plain-scale")
    app = baseline.open_plain(plain_store.env, create=True)
    baseline.write_bulk(app, synth.plans(args.items, args.events_per_item), batch=args.batch)
    book = open_ledger(prog.store, signer=prog.signer)
    size = book.log_store.log_size()
    plain_s, ours_s = interleaved(
        extra,
        lambda chunk: [baseline.write_single(app, p) for p in chunk],
        lambda chunk: [synth.write_single(book, p) for p in chunk],
        size=max(1, INTERLEAVE_ITEMS // 10),
    )
    app.close()
    target = "Ledger >= 0.60 x plain" + (" (set for SQLite)" if args.db != "sqlite" else "")
    _ratio_figure(
        out,
        f"single writes onto {args.items:,} items ({size:,} leaves)",
        events / ours_s,
        events / plain_s,
        target,
        f"onto a plain store of {prog.events:,} events",
        note=f"{events} events; {events / ours_s:,.0f}/s vs the fresh store's above",
    )
    if "ingest" in args.profile:
        more = list(
            synth.plans(
                min(args.scale_sample, 50),
                args.events_per_item,
                first=args.items + args.scale_sample,
            )
        )
        out.facts["profile_ingest_at_scale"] = profile_call(
            f"Ledger single writes onto {size:,} leaves, {sum(p.events for p in more)} events",
            lambda: [synth.write_single(book, p) for p in more],
        )
    book.close()


# Custody at T ---------------------------------------------------------------------------------


def section_custody(args: argparse.Namespace, prog: Programme, out: Results) -> None:
    book = open_ledger(prog.store, signer=prog.signer)
    plain = baseline.open_same_store(prog.store.env)
    rng = random.Random(11)
    fleet = Fleet.of(book)
    build = timed(fleet.catch_up)
    out.info(f"read models caught up with the whole programme in {build:.1f} s (one-off)")
    for plan, samples in ((prog.history_10, args.samples), (prog.history_1000, args.samples // 5)):
        span = (synth.NOW - plan.issued_at).total_seconds()
        moments = [
            plan.issued_at + (synth.NOW - plan.issued_at) * rng.random() for _ in range(samples)
        ]
        ours = latencies([_custody_call(book, plan, t) for t in moments])
        theirs = latencies([_load_call(plain, plan) for _ in range(samples)])
        note = f"{samples} calls over {span / 86400:.0f} days"
        _custody_figures(out, f"custody_at, {plan.events} events", ours, theirs, note)
        item = plan.item_id
        from_views = [
            lambda t=t, i=item: readmodel_custody.custody_at(book, fleet, i, at=t) for t in moments
        ]
        label = f"read model (readmodels.custody_at), {plan.events} events"
        _custody_figures(out, label, latencies(from_views), theirs, f"{samples} calls")
        if "custody" in args.profile and plan.events >= 1000:
            calls = [_custody_call(book, plan, t) for t in moments[:50]]
            out.facts["profile_custody"] = profile_call(
                f"{len(calls)} x custody_at over {plan.events} events",
                lambda c=calls: [f() for f in c],
            )
    plain.close()
    book.close()


def _custody_figures(
    out: Results, label: str, ours: Sequence[float], theirs: Sequence[float], note: str
) -> None:
    """p50 (against the target) and p99 of one way of asking, against one replay by the library.
    The read model (`readmodels.custody_at`) answers with the entries it rests on, as the API
    does, from the views as the follower left them."""
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        value, base = percentile(ours, q), percentile(theirs, q)
        verdict, gap = under(value, 2.0, "ms") if q == 0.5 else ("", "")
        out.add(
            Figure(
                "custody",
                f"{label}, {name}",
                value,
                "ms",
                base,
                "repository.get(id): one replay of the same events",
                "p50 < 2 ms" if q == 0.5 else "",
                verdict,
                gap,
                note if q == 0.5 else "",
            )
        )


def _custody_call(book: Ledger, plan: synth.ItemPlan, at: datetime) -> Callable[[], object]:
    return lambda: book.custody_at(plan.item_id, at=at)


def _load_call(app: Any, plan: synth.ItemPlan) -> Callable[[], object]:
    return lambda: app.repository.get(plan.item_id)


# Unaccounted report ---------------------------------------------------------------------------


def section_report(args: argparse.Namespace, prog: Programme, out: Results) -> None:
    """The first report builds the stored accounts (policies/accounts.py), a one-off like a read
    model's rebuild; the figure is the report after that, the way a serving process answers."""
    book = open_ledger(prog.store, signer=prog.signer)
    scope, config = Scope(as_of=synth.NOW), PolicyConfig()
    found: list[Any] = []
    build = timed(lambda: found.append(unaccounted_report(book, scope, config)))
    runs = 3
    times = [
        timed(lambda: found.append(unaccounted_report(book, scope, config))) for _ in range(runs)
    ]
    ours = sorted(times)[len(times) // 2]
    plain = baseline.open_same_store(prog.store.env)
    theirs = timed(lambda: baseline.replay_all(plain, fold=True))
    plain.close()
    report = found[-1]
    items = sum(r.issued for r in report.recipients)
    checked = _check_report_against_reference(book, scope, config, report, prog.items)
    if prog.items >= REPORT_TARGET_ITEMS:
        verdict, gap = under(ours, 3.0, "s")
        note = ""
    else:
        projected = ours / items * REPORT_TARGET_ITEMS
        verdict, gap = under(projected, 3.0, "s")
        verdict += " (projected)"
        note = f"linear projection to {REPORT_TARGET_ITEMS:,} items: {projected:.1f} s"
    out.add(
        Figure(
            "report",
            f"unaccounted_report, {items:,} items",
            ours,
            "s",
            theirs,
            "replay every event of the same store with mutate",
            f"< 3 s at {REPORT_TARGET_ITEMS:,} items",
            verdict,
            gap,
            f"{len(report.unaccounted):,} unaccounted, median of {runs}; {checked}; {note}".rstrip(
                "; "
            ),
        )
    )
    out.add(
        Figure(
            "report",
            f"first report: builds the stored accounts of {items:,} items",
            build,
            "s",
            theirs,
            "replay every event of the same store with mutate",
            "",
            "",
            "",
            "one-off, like a read model's rebuild",
        )
    )
    if "report" in args.profile:
        out.facts["profile_report"] = profile_call(
            f"unaccounted_report over {items:,} items",
            lambda: unaccounted_report(book, scope, config),
        )
    book.close()


def _check_report_against_reference(
    book: Ledger, scope: Scope, config: PolicyConfig, report: Any, items: int
) -> str:
    """Below 50,000 items, the fast report must equal the reference's accounts, item by item."""
    if items > 50_000:
        return "not re-checked against the reference at this size (tests do)"
    fast = [a for a in accounts(book, scope, config) if a.unaccounted]
    reference = [a for a in reference_accounts(book, scope, config) if a.unaccounted]
    if fast != reference or len(fast) != len(report.unaccounted):
        raise SystemExit("the stored accounts disagree with the reference: a bug")
    return "equal to the reference item by item"


# Proofs ---------------------------------------------------------------------------------------


class _Recording:
    """A merkle.NodeReader that reads through the store and keeps what it read."""

    def __init__(self, inner: Any, into: merkle.MemoryNodeStore) -> None:
        self.inner, self.into = inner, into

    def read_nodes(self, keys: Sequence[merkle.Key]) -> Any:
        found = self.inner.read_nodes(keys)
        self.into.add((level, index, digest) for (level, index), digest in found.items())
        return found


class _IndexedNodes:
    """What-if (not the Ledger's code): read the nodes a proof needs with a query SQLite plans as
    primary-key searches. The Ledger's `(level, idx) IN (VALUES ...)` is planned as a full scan."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)

    def read_nodes(self, keys: Sequence[merkle.Key]) -> dict[merkle.Key, bytes]:
        values = ", ".join(["(?, ?)"] * len(keys))
        query = (
            f"WITH k(l, i) AS (VALUES {values}) SELECT t.level, t.idx, t.hash FROM k "
            "JOIN custody_tree t ON t.level = k.l AND t.idx = k.i"
        )
        rows = self.db.execute(query, [v for key in keys for v in key]).fetchall()
        return {(level, idx): digest for level, idx, digest in rows}

    def close(self) -> None:
        self.db.close()


def section_proofs(args: argparse.Namespace, prog: Programme, out: Results) -> None:
    book = open_ledger(prog.store, signer=prog.signer)
    size = book.log_store.log_size()
    rng = random.Random(13)
    indexes = [rng.randrange(size) for _ in range(args.samples)]
    olds = [rng.randrange(1, size) for _ in range(args.samples)]
    root = book.tlog.root(size)
    proof = book.tlog.inclusion_proof(indexes[0], size)
    leaf = book.log_store.log_entries(indexes[0], indexes[0] + 1)[0].leaf_hash
    merkle.verify_inclusion(leaf, indexes[0], size, proof, root)  # the figures are of real proofs
    memory = merkle.MemoryNodeStore()
    indexed = _IndexedNodes(prog.store.env["SQLITE_DBNAME"]) if args.db == "sqlite" else None
    recording = _Recording(indexed or book.log_store, memory)
    for i, m in zip(indexes, olds, strict=True):
        merkle.inclusion_proof(i, size, recording)
        merkle.consistency_proof(m, size, recording)
    kinds = (
        (
            "inclusion",
            lambda i, m: lambda: book.tlog.inclusion_proof(i, size),
            lambda i, m: lambda: merkle.inclusion_proof(i, size, memory),
        ),
        (
            "consistency",
            lambda i, m: lambda: book.tlog.consistency_proof(m, size),
            lambda i, m: lambda: merkle.consistency_proof(m, size, memory),
        ),
    )
    for name, ledger_call, memory_call in kinds:
        pairs = list(zip(indexes, olds, strict=True))
        ours = latencies([ledger_call(i, m) for i, m in pairs])
        reference = latencies([memory_call(i, m) for i, m in pairs])
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            value = percentile(ours, q)
            verdict, gap = under(value, 1.0, "ms") if q == 0.5 else ("", "")
            if q == 0.5 and size < PROOF_TARGET_LEAVES:
                verdict += f" (at {size:,} leaves)"
            out.add(
                Figure(
                    "proofs",
                    f"{name} proof at {size:,} leaves, {label}",
                    value,
                    "ms",
                    target=f"p50 < 1 ms at {PROOF_TARGET_LEAVES:,} leaves" if q == 0.5 else "",
                    verdict=verdict,
                    gap=gap,
                    note=(
                        f"no plain baseline; same proof over nodes in memory: "
                        f"{percentile(reference, q):.4f} ms"
                    ),
                )
            )
    if indexed is not None:
        what_if = latencies(
            [(lambda i=i: merkle.inclusion_proof(i, size, indexed)) for i in indexes]
        )
        indexed.close()
        out.info(
            "what-if: the same inclusion proofs reading the nodes with an index-using query "
            f"(a VALUES CTE joined on the primary key): p50 {percentile(what_if, 0.5):.4f} ms, "
            f"p99 {percentile(what_if, 0.99):.4f} ms"
        )
    sizes = latencies([book.log_store.log_size for _ in range(args.samples)])
    out.info(f"of which the size check (log_size, one query): p50 {percentile(sizes, 0.5):.4f} ms")
    if "proofs" in args.profile:
        calls = [(lambda i=i: book.tlog.inclusion_proof(i, size)) for i in indexes[:100]]
        out.facts["profile_proofs"] = profile_call(
            f"{len(calls)} inclusion proofs at {size:,} leaves", lambda: [c() for c in calls]
        )
    book.close()


# Verify ---------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float  # the command's own, from its start to its end (bench/measure.py)
    cpu_seconds: float  # the command's CPU time, its worker processes' included
    wall: float  # as seen from here, process start-up included
    peak_rss_kib: int
    stdout: str


def run_measured(arguments: list[str], env: dict[str, str], tmp: Path) -> Run:
    """Run `python -m custody_cli ARGUMENTS` (what the `custody` script runs) under
    bench/measure.py."""
    report, out_path, err_path = tmp / "measure.json", tmp / "child.out", tmp / "child.err"
    measure = [sys.executable, str(HERE / "measure.py"), str(report)]
    command = [*measure, "-m", "custody_cli", *arguments]
    with out_path.open("wb") as out_file, err_path.open("wb") as err_file:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out_file, stderr=err_file)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"custody {' '.join(arguments)}: {err_path.read_text()[-2000:]}")
    measured = json.loads(report.read_text())
    return Run(
        measured["seconds"],
        measured["cpu_seconds"],
        wall,
        measured["peak_rss_kib"],
        out_path.read_text(),
    )


def cpu_note(work: Run, startup: Run, count: int, what: str, cpus: int = 1) -> str:
    """CPU time per unit of work (start-up taken out), and the rate it allows on `cpus` CPUs if
    nothing else ran: what a busy machine's wall clock hides."""
    per = (work.cpu_seconds - startup.cpu_seconds) / count
    return f"CPU {per * 1e6:,.0f} us per {what}, at most {cpus / per:,.0f}/s on {cpus} idle CPU(s)"


def section_verify(args: argparse.Namespace, stores: Stores, prog: Programme, out: Results) -> None:
    """`custody verify` as an operator runs it on a serving store: the log pass (leaves, entries,
    receipts, tree, checkpoints, map roots) and the derived state (read models and stored
    accounts, built here first if no earlier section did)."""
    tiny, tiny_size = _tiny_store(stores, prog)
    derived_s = _derived_state_seconds(prog)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env |= {"CUSTODY_KEY": str(prog.key_file), "CUSTODY_ORIGIN": DEFAULT_ORIGIN}
    small = run_measured(["verify", "--db", tiny.url], env, stores.tmp)
    alone = run_measured(["verify", "--db", prog.store.url, "--workers", "0"], env, stores.tmp)
    big = run_measured(["verify", "--db", prog.store.url], env, stores.tmp)
    if "intact:" not in big.stdout or "derived:" not in big.stdout:
        raise RuntimeError(f"custody verify did not report an intact store: {big.stdout}")
    reader = open_ledger(prog.store)
    size = reader.log_store.log_size()
    reader.close()
    plain = baseline.open_same_store(prog.store.env)
    plain_s = timed(lambda: baseline.replay_all(plain, fold=False))
    plain.close()
    work, cpus = big.seconds - small.seconds, os.cpu_count() or 1
    rate, raw = size / work, size / big.wall
    verdict, gap = at_least(rate, 50_000, " entries/s")
    if big.seconds < 2 * small.seconds:  # start-up dominates: the difference is mostly noise
        verdict, gap = "n/a", "the log is too small for the start-up to be taken out reliably"
    out.add(
        Figure(
            "verify",
            f"custody verify, {size:,} entries",
            rate,
            "entries/s",
            size / plain_s,
            "read + decode every event of the same store",
            ">= 50,000 entries/s",
            verdict,
            gap,
            f"{big.seconds:.1f} s less {small.seconds:.2f} s for the same command on a "
            f"{tiny_size}-entry store (imports, opening); {raw:,.0f}/s by the wall clock, "
            f"interpreter start-up included; of it the derived state about {derived_s:.1f} s "
            f"(timed in this process), so the log pass {size / max(work - derived_s, 1e-9):,.0f}/s;"
            f" {size / (alone.seconds - small.seconds):,.0f}/s with --workers 0 (one process); "
            f"{cpu_note(big, small, size, 'entry', cpus)}; one process: "
            f"{cpu_note(alone, small, size, 'entry')}",
        )
    )
    growth = (big.peak_rss_kib - small.peak_rss_kib) / 1024
    verdict, gap = under(growth, VERIFY_MEMORY_BOUND_MIB, "MiB")
    out.add(
        Figure(
            "verify",
            f"peak RSS growth over a {tiny_size}-entry store",
            growth,
            "MiB",
            target=f"< {VERIFY_MEMORY_BOUND_MIB} MiB, whatever the log size",
            verdict=verdict,
            gap=gap,
            note=(
                f"peak RSS (VmHWM) {big.peak_rss_kib / 1024:.0f} MiB at {size:,} entries, "
                f"{small.peak_rss_kib / 1024:.0f} MiB at {tiny_size}; each worker holds at most "
                "one batch of 1,000 entries"
            ),
        )
    )
    if "verify" in args.profile:
        out.facts["profile_verify"] = profile_cli(
            f"custody verify --workers 0 over {size:,} entries",
            ["verify", "--db", prog.store.url, "--workers", "0"],
            stores.tmp / "verify.prof",
            env,
        )


def _tiny_store(stores: Stores, prog: Programme) -> tuple[Store, int]:
    tiny = stores.new("tiny")
    book = open_ledger(tiny, create=True, signer=prog.signer)
    synth.setup(book)
    book.tlog.checkpoint()
    size = book.log_store.log_size()
    book.close()
    return tiny, size


def _derived_state_seconds(prog: Programme) -> float:
    """Bring the read models and the default policy's stored accounts up to date (a serving
    store has them), then time their check, the part of `custody verify` after the log pass."""
    book = open_ledger(prog.store, signer=prog.signer)
    Fleet.of(book).catch_up()
    unaccounted_report(book, Scope(as_of=synth.NOW), PolicyConfig())
    seconds = timed(lambda: (check_read_models(book), check_accounts(book, PolicyConfig())))
    book.close()
    return seconds


# Sections added by registration ---------------------------------------------------------------


Section = Callable[[argparse.Namespace, Stores, "Programme | None", Results], None]
REGISTERED: dict[str, tuple[Section, bool]] = {}
"""Sections beyond the built-in ones, by name: (function, needs the programme store)."""


def section(name: str, *, programme: bool = True) -> Callable[[Section], Section]:
    """Register a section: `@section("paging")` on `def section_paging(args, stores, prog, out)`
    makes `--only paging` and `--profile paging` work; it runs after the built-in sections, on the
    programme store when `programme` (else `prog` is None), and reports each target with
    `out.report(...)`, which the summary at the end repeats with PASS or MISS."""

    def register(fn: Section) -> Section:
        REGISTERED[name] = (fn, programme)
        return fn

    return register


def all_sections() -> tuple[str, ...]:
    return SECTIONS + tuple(REGISTERED)


# Paging (issue 18, item 3) ------------------------------------------------------------------------

PAGE_TARGET_MS = 200.0
PAGED_ENTRIES = 3000


@section("paging")
def section_paging(
    args: argparse.Namespace, stores: Stores, prog: Programme | None, out: Results
) -> None:
    """Every page of the history and of the evidence entries of an item with 3,000 entries,
    `GET`s through the app in process (TestClient: routing, scope, JSON), 100 entries a page,
    each page's time the median of three walks (other work on the machine makes spikes);
    against the reads the unpaged history answer made (every entry and its receipt)."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    assert prog is not None  # registered with the programme store
    book = open_ledger(prog.store, signer=prog.signer)
    plan = synth.long_history("BENCH-HIST-3000", PAGED_ENTRIES)
    synth.write_bulk(book, iter([plan]), batch=1)
    token, _ = book.grant_token(party="operator", role="admin", actor=synth.ADMIN)
    whole = latencies([lambda: [book.tlog.receipt_of(r) for r in book.history(plan.item_id)]], 1)
    with TestClient(create_app(book)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for what in ("history", "evidence/entries"):
            walks = [_page_times(client, f"/v1/items/{plan.item_id}/{what}") for _ in range(3)]
            pages = [sorted(times)[1] for times in zip(*walks, strict=True)]
            _paging_figures(out, what, pages, whole[0])
    book.close()


def _page_times(client: Any, path: str) -> list[float]:
    """ms of each page, following `next` to the end (one untimed first page warms up)."""
    client.get(path)
    times, params = [], {"limit": 100}
    while True:
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        cursor = response.json()["next"]
        if cursor is None:
            return times
        params["cursor"] = cursor


def _paging_figures(out: Results, what: str, pages: Sequence[float], whole: float) -> None:
    for q, name in ((0.5, "p50"), (1.0, "slowest")):
        value = percentile(pages, q) if q < 1 else max(pages)
        verdict, gap = under(value, PAGE_TARGET_MS, "ms")
        out.add(
            Figure(
                "paging",
                f"{what} page of 100, {PAGED_ENTRIES:,}-entry item, {name}",
                value,
                "ms",
                whole,
                "the unpaged history's reads: all entries and receipts, in process",
                f"< {PAGE_TARGET_MS:g} ms a page",
                verdict,
                gap,
                f"{len(pages)} pages, median of 3 walks each" if q == 0.5 else "",
            )
        )


# Import ---------------------------------------------------------------------------------------

IMPORT_COLUMNS = (
    "action", "manufacturer", "model", "serial", "category", "agreement", "recipient", "to",
    "result", "method", "inspector", "circumstances", "occurred_at",
)  # fmt: skip


def import_csv(plans: Sequence[synth.ItemPlan]) -> str:
    """The plans as a `custody import` CSV: each item's issue, then its events, naming the item
    by its marking (manufacturer, model, serial), as a spreadsheet export would."""
    lines = [",".join(IMPORT_COLUMNS)]
    for plan in plans:
        mark = {"manufacturer": plan.manufacturer, "model": plan.model, "serial": plan.serial}
        rows = [
            mark
            | {
                "action": "issue",
                "category": plan.category,
                "agreement": plan.agreement,
                "recipient": plan.recipient,
                "occurred_at": plan.issued_at.isoformat(),
            }
        ]
        for step in plan.steps:
            row = mark | {"occurred_at": step.occurred_at.isoformat()}
            if step.kind == "transfer":
                row |= {"action": "transfer", "to": step.value}
            elif step.kind == "inspect":
                row |= {"action": "inspect", "result": step.value, "method": "physical"}
                row["inspector"] = synth.INSPECTORATE
            else:
                row |= {"action": "report_lost", "circumstances": step.value}
            rows.append(row)
        lines += [",".join(str(r.get(c, "")) for c in IMPORT_COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"


@section("import", programme=False)
def section_import(
    args: argparse.Namespace, stores: Stores, prog: Programme | None, out: Results
) -> None:
    """`custody import` of a CSV of --sample items (their issue and events, one row each) into a
    fresh store, in a subprocess: rows/s, less the same command's time for a one-item file."""
    sample = list(synth.plans(args.sample, args.events_per_item, first=7_000_000))
    key_file = stores.tmp / "import.key"
    signer = Signer.from_text(generate_signer_key(DEFAULT_ORIGIN))
    write_private_key_file(key_file, signer.to_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env |= {"CUSTODY_KEY": str(key_file), "CUSTODY_ORIGIN": DEFAULT_ORIGIN}
    runs = []
    for name, plans in (("import-small", sample[:1]), ("import", sample[1:])):
        store = stores.new(name)
        book = open_ledger(store, create=True, signer=signer)
        synth.setup(book)
        book.close()
        csv_file = stores.tmp / f"{name}.csv"
        csv_file.write_text(import_csv(plans))
        runs.append(run_measured(["import", str(csv_file), "--db", store.url], env, stores.tmp))
    small, big = runs
    rows = sum(p.events for p in sample[1:])
    name = f"custody import, {rows:,} rows ({len(sample) - 1:,} items), batches of 500"
    work = big.seconds - small.seconds
    rate = rows / work if work > 0 else 0.0
    note = (
        f"{big.seconds:.1f} s less {small.seconds:.2f} s for a one-item file (start-up); "
        f"{cpu_note(big, small, rows, 'row')}"
    )
    if big.seconds < 2 * small.seconds:  # start-up dominates: the difference is mostly noise
        gap = "too few rows to take the start-up out reliably"
        out.add(Figure("import", name, rate, "rows/s", target=">= 5,000 rows/s", verdict="n/a",
                       gap=gap, note=note))  # fmt: skip
    else:
        out.report("import", name, rate, 5_000, "rows/s", higher_is_better=True, note=note)
    if "import" in args.profile:
        store = stores.new("import-profile")
        book = open_ledger(store, create=True, signer=signer)
        synth.setup(book)
        book.close()
        out.facts["profile_import"] = profile_cli(
            f"custody import of {rows:,} rows",
            ["import", str(stores.tmp / "import.csv"), "--db", store.url],
            stores.tmp / "import.prof",
            env,
        )


# Read models ----------------------------------------------------------------------------------


@section("readmodels")
def section_readmodels(
    args: argparse.Namespace, stores: Stores, prog: Programme | None, out: Results
) -> None:
    """Rebuild and catch-up rates of the read models and stored accounts, and custody at T over
    HTTP (bench/readmodels.py). Appends max(--scale-sample, 1000) items to the programme store:
    give it last in --only."""
    assert prog is not None
    book = open_ledger(prog.store, signer=prog.signer)
    _rate_figure(out, "read models: rebuild (clear, follow)", readmodels.rebuild_rate(book))
    _rate_figure(out, "stored accounts: rebuild", readmodels.accounts_rebuild_rate(book))
    tail = max(args.scale_sample, 1000)
    first = args.items + args.scale_sample + 100
    views, stored = readmodels.tail_rates(book, tail, args.events_per_item, first)
    _rate_figure(out, f"read models: catch-up, {tail:,} items written", views)
    _rate_figure(out, f"stored accounts: catch-up, {tail:,} items written", stored)
    token, _ = book.grant_token(party="operator", role="admin", actor=synth.ADMIN)
    book.close()
    samples = max(args.samples // 5, 50)
    ours, replay = readmodels.http_custody_latencies(
        lambda: _server("ledger", prog.store.url), token, prog.history_1000, samples
    )
    out.report(
        "readmodel",
        "GET /v1/items/{id}/custody?at=T, 1,000 events, p50",
        percentile(ours, 0.5),
        readmodels.HTTP_P50_TARGET_MS,
        "ms",
        higher_is_better=False,
        note=f"{samples} requests over HTTP (uvicorn, httpx); p99 {percentile(ours, 0.99):.1f} ms"
        f" against {percentile(replay, 0.99):.1f}",
        baseline=percentile(replay, 0.5),
        baseline_what="the same request with exact=true: the replay",
    )


def _rate_figure(out: Results, name: str, measured: readmodels.Rate) -> None:
    out.report(
        "readmodel",
        name,
        measured.per_second,
        readmodels.RATE_TARGET,
        "entries/s",
        higher_is_better=True,
        note=f"{measured.entries:,} entries in {measured.seconds:.1f} s; "
        f"{measured.per_cpu_second:,.0f} entries per CPU second",
    )


# Dashboard overview (issue 18, item 4) -----------------------------------------------------------

OVERVIEW_TARGET_MS = 300.0
OVERVIEW_ITEMS = 3000


@section("overview", programme=False)
def section_overview(
    args: argparse.Namespace, stores: Stores, prog: Programme | None, out: Results
) -> None:
    """`GET /ui`, the dashboard's overview, on the 3,000-item demo programme (`custody demo`'s
    `build_demo`) in a fresh store, through the app in process (TestClient) in a signed-in
    session, after the follower has brought the read models and stored accounts up to date (as
    `create_app` does when it starts): p50 over a few requests."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from ledger.operations import build_demo

    book = open_ledger(stores.new("overview"), create=True)
    token = book.bootstrap()
    started = time.perf_counter()
    built = build_demo(book, now=synth.NOW, items=OVERVIEW_ITEMS)
    out.info(f"demo programme: {len(built.items):,} items, {built.events:,} events "
             f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    app = create_app(book)
    behind = {step.name: step.behind() for step in app.state.follower.steps}
    assert not any(behind.values()), f"the follower left work for the requests: {behind}"
    with TestClient(app, base_url="http://localhost") as client:
        _sign_in(client, token)
        requests = max(args.samples // 200, 5)
        cpu = time.process_time()  # the TestClient's threads are this process's
        times = latencies([lambda: client.get("/ui").raise_for_status()] * requests, warmup=1)
        cpu_ms = (time.process_time() - cpu) * 1000 / (requests + 1)
    if "overview" in args.profile:
        out.facts["profile_overview"] = _profile_overview(book)
    book.close()
    out.report(
        "overview",
        f"GET /ui, {OVERVIEW_ITEMS:,}-item demo, p50",
        percentile(times, 0.5),
        OVERVIEW_TARGET_MS,
        "ms",
        higher_is_better=False,
        note=f"{requests} requests in process, signed in; slowest {max(times):.0f} ms;"
        f" {cpu_ms:.0f} ms of CPU a request",
    )


# Single writes onto a very large store (issue 18, item 4) ---------------------------------------


@section("bigstore", programme=False)
def section_bigstore(
    args: argparse.Namespace, stores: Stores, prog: Programme | None, out: Results
) -> None:
    """Single writes (one event per transaction, as the API makes them) onto a copy of a
    --big-leaves-leaf Ledger store, against the plain application writing the same items onto a
    copy of a plain store of as many events, the two taking turns. The stores are built once and
    cached (bench/bigstore.py; SQLite only). Then, on each side, what a commit writes: the WAL
    frames (pages) per commit, and with --profile which table or index each page is of, and a
    cProfile of the Ledger's writes."""
    import bigstore

    if args.db != "sqlite":
        out.info("bigstore: SQLite only; skipped")
        return
    built = bigstore.ensure(args.big_leaves, args.big_cache, progress=out.info)
    ledger_path = bigstore.copy_of(built.ledger, stores.tmp)
    plain_path = bigstore.copy_of(built.plain, stores.tmp)
    signer = Signer.from_text(read_private_key_file(built.key))
    book = open_ledger(Store(f"sqlite:///{ledger_path}", {}), signer=signer)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(plain_path)}
    app = baseline.open_plain(env, create=False)
    size = book.log_store.log_size()
    first = built.items
    warm = list(synth.plans(WARMUP_ITEMS, args.events_per_item, first=first))
    timed_plans = list(synth.plans(args.big_sample, args.events_per_item, first=first + 100))
    for plan in warm:  # not timed: the first writes open connections and read the schema
        baseline.write_single(app, plan)
        synth.write_single(book, plan)
    cpu = {"plain": 0.0, "ledger": 0.0}

    def on_cpu(side: str, write: Callable[[], object]) -> None:
        started = time.process_time()
        write()
        cpu[side] += time.process_time() - started

    plain_s, ours_s = interleaved(
        timed_plans,
        lambda chunk: on_cpu("plain", lambda: [baseline.write_single(app, p) for p in chunk]),
        lambda chunk: on_cpu("ledger", lambda: [synth.write_single(book, p) for p in chunk]),
        size=max(1, INTERLEAVE_ITEMS // 10),
    )
    events = sum(p.events for p in timed_plans)
    counted = list(
        synth.plans(BIG_COUNTED_ITEMS, args.events_per_item, first=first + 100 + args.big_sample)
    )
    theirs = _frames_of(plain_path, counted, lambda p: baseline.write_single(app, p))
    ours = _frames_of(ledger_path, counted, lambda p: synth.write_single(book, p))
    app.close()
    per_commit = {
        side: len(frames) / max(1, sum(1 for _, ends in frames if ends))
        for side, frames in (("plain", theirs), ("ledger", ours))
    }
    _ratio_figure(
        out,
        f"single writes onto {size:,} leaves",
        events / ours_s,
        events / plain_s,
        "Ledger >= 0.60 x plain",
        f"onto a plain store of {built.leaves:,} events",
        note=f"{events} events, {len(timed_plans)} items; CPU per event: Ledger "
        f"{cpu['ledger'] / events * 1000:.2f} ms, plain {cpu['plain'] / events * 1000:.2f} ms "
        f"(ratio {cpu['plain'] / max(cpu['ledger'], 1e-9):.2f}, the ratio were syncs free); "
        f"pages (WAL frames) per commit: Ledger {per_commit['ledger']:.1f}, "
        f"plain {per_commit['plain']:.1f}",
    )
    out.facts["bigstore_pages_per_commit"] = per_commit
    out.facts["bigstore_cpu_ms_per_event"] = {k: v / events * 1000 for k, v in cpu.items()}
    if "bigstore" in args.profile:
        for side, path, frames in (("plain", plain_path, theirs), ("ledger", ledger_path, ours)):
            out.facts[f"bigstore_pages_{side}"] = _pages_by_owner(side, path, frames, out)
        more = list(synth.plans(50, args.events_per_item, first=first + 200 + args.big_sample))
        out.facts["profile_bigstore"] = profile_call(
            f"Ledger single writes onto {size:,} leaves, {sum(p.events for p in more)} events",
            lambda: [synth.write_single(book, p) for p in more],
        )
    book.close()


BIG_COUNTED_ITEMS = 30
"""Items written on each side while their WAL frames are counted."""


def _frames_of(
    path: Path, plans: Sequence[synth.ItemPlan], write: Callable[[synth.ItemPlan], object]
) -> list[tuple[int, bool]]:
    """The WAL frames (page, ends a commit) that writing `plans[1:]` appends to the store; the
    first plan is written uncounted, to give the reader bigstore.Frames holds a frame."""
    import bigstore

    frames = bigstore.Frames(path)
    write(plans[0])
    frames.begin()
    for plan in plans[1:]:
        write(plan)
    return frames.end()


def _pages_by_owner(
    side: str, path: Path, frames: Sequence[tuple[int, bool]], out: Results
) -> dict[str, float]:
    """Pages per commit by the table or index they belong to."""
    import bigstore

    commits = max(1, sum(1 for _, ends in frames if ends))
    owners = bigstore.page_owners(path, {page for page, _ in frames})
    counts: dict[str, int] = {}
    for page, _ in frames:
        name = owners.get(page, "(free list or new)")
        counts[name] = counts.get(name, 0) + 1
    shares = {name: n / commits for name, n in sorted(counts.items(), key=lambda kv: -kv[1])}
    out.info(
        f"bigstore pages per commit, {side}: "
        + ", ".join(f"{name} {n:.2f}" for name, n in shares.items())
    )
    return shares


def _profile_overview(book: Ledger) -> list[str]:
    """The request's work, `api.ui.views.overview` as `GET /ui` calls it on a second visit
    (a mark, so the changes since it too), profiled in this thread: the TestClient runs the
    route in a thread of its own, which cProfile would not see."""
    from api.ui import views

    now = book.clock()
    mark = views.mark_now(book, now)
    return profile_call(
        "api.ui.views.overview, as one GET /ui",
        lambda: views.overview(book, synth.ADMIN, PolicyConfig(), now, mark),
    )


def _sign_in(client: Any, token: str) -> None:
    """The login form sent back with its double-submit cookie, as a browser does."""
    page = client.get("/ui/login")
    found = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert found, "no csrf field on the login form"
    csrf = found.group(1)
    response = client.post(
        "/ui/login",
        data={"csrf": csrf, "token": token, "next": "/ui"},
        headers={"Cookie": f"custody_login_csrf={csrf}"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


# Main -----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "eventsourcing": getattr(eventsourcing, "__version__", "9.5.6"),
        "sqlite": sqlite3.sqlite_version,
        "load_average": os.getloadavg(),
    }


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=5000, help="programme size")
    parser.add_argument("--events-per-item", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--only", default=",".join(all_sections()), help="comma-separated sections")
    parser.add_argument("--sample", type=int, help="items for ingest (default: min(items, 5000))")
    parser.add_argument(
        "--scale-sample", type=int, default=100, help="items written onto the programme store"
    )
    parser.add_argument("--http-requests", type=int, default=1500, help="0 skips HTTP ingest")
    parser.add_argument("--batch", type=int, default=1000, help="items per Ledger.save")
    parser.add_argument("--samples", type=int, default=1000, help="calls per latency figure")
    parser.add_argument(
        "--profile",
        nargs="?",
        const=",".join(all_sections()),
        default="",
        help="add cProfile top functions (all sections, or the comma-separated ones named)",
    )
    parser.add_argument(
        "--big-leaves", type=int, default=1_000_000, help="the bigstore section's store size"
    )
    parser.add_argument(
        "--big-sample", type=int, default=100, help="items written one by one onto the big store"
    )
    parser.add_argument(
        "--big-cache",
        type=Path,
        default=Path("/tmp/custody-bench-cache"),
        help="where bench/bigstore.py keeps the big stores it built",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--tmp", type=Path, help="where the temporary stores go")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(all_sections())
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    args.sample = args.sample or min(args.items, 5000)
    args.profile = [s.strip() for s in args.profile.split(",") if s.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    out = Results()
    facts = machine()
    print(
        f"custody bench: {args.db}, --items {args.items:,}, sections {','.join(args.sections)}; "
        f"{facts['cpus']} CPUs, {facts['memory_gib']} GiB, Python {facts['python']}, "
        f"SQLite {facts['sqlite']}, load {facts['load_average'][0]:.2f}",
        flush=True,
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="custody-bench-", dir=args.tmp))
    stores = Stores(args.db, tmp)
    try:
        if "ingest" in args.sections:
            section_ingest(args, stores, out)
        rest = [s for s in args.sections if s != "ingest"]
        needs = [s for s in rest if s in SECTIONS or REGISTERED[s][1]]
        prog = None
        if needs or ("ingest" in args.sections and args.items > args.sample):
            prog = build_programme(args, stores, out)
            if "ingest" in args.sections and args.scale_sample:
                section_ingest_at_scale(args, stores, prog, out)
            if "custody" in rest:
                section_custody(args, prog, out)
            if "report" in rest:
                section_report(args, prog, out)
            if "proofs" in rest:
                section_proofs(args, prog, out)
            if "verify" in rest:
                section_verify(args, stores, prog, out)
        for name in [s for s in rest if s in REGISTERED]:
            REGISTERED[name][0](args, stores, prog, out)
    finally:
        stores.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    out.info(f"total {time.perf_counter() - started:.0f} s")
    out.summary()
    if args.json:
        document = {
            "argv": sys.argv[1:],
            "machine": facts,
            "facts": out.facts,
            "figures": [vars(f) | {"ratio": f.ratio} for f in out.figures],
        }
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
