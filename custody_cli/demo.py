"""`custody demo`: a synthetic programme in a fresh store, witnessed by a local witness, served."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from api.demo_witness import DemoWitness, demo_witness
from custody_cli.options import HostOption, PortOption, open_ledger
from custody_cli.output import out, with_progress
from custody_cli.store import initialise, serve_ledger
from ledger.application import log_key
from ledger.domain import CustodyError, system_clock
from ledger.integrity import Verifier
from ledger.operations import build_demo
from ledger.store import Config, redacted

DEMO_DIR = Path("custody-demo")
DEMO_MARKER = ".custody-demo"


def demo(
    items: Annotated[int, typer.Option(min=1, max=100_000, help="how many items to issue")] = 3000,
    directory: Annotated[
        Path, typer.Option("--dir", help="where the demo store and key go")
    ] = DEMO_DIR,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    witness_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="loopback port of the demo's witness (0: any free)"),
    ] = 8001,
    serve_it: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve it when built")
    ] = True,
    db: Annotated[
        str | None,
        typer.Option("--db", help="build in this new store instead (key: CUSTODY_KEY), not --dir"),
    ] = None,
) -> None:
    """Build a realistic synthetic programme (3,000 items over two years) in a fresh demo store,
    witnessed by a local witness of its own, then serve the dashboard and the API."""
    config = Config.from_env(db=db) if db else _fresh_demo_dir(directory)
    token, vkey = initialise(config)
    witness_dir = _demo_witness_dir(config) if db else directory
    with demo_witness(
        witness_dir, log=Verifier.from_vkey(vkey), host="127.0.0.1", port=witness_port
    ) as witness:
        config = replace(config, witness_policy=str(witness.policy_file))
        ledger = open_ledger(config, signer=log_key(config))
        built = with_progress(
            "building the demo programme",
            items,
            lambda step: build_demo(ledger, now=system_clock(), items=items, progress=step),
        )
        ledger.tlog.checkpoint()  # cosigned by the witness
        out.print(
            f"demo ledger: {len(built.items)} items, {built.events} events in {redacted(config.db)}"
        )
        out.print(f"admin token: {token}", markup=False)
        for line in _demo_usage(config):
            out.print(line, markup=False, highlight=False)
        _print_trust_chain(witness, built.items[0], host, port)
        if serve_it:
            out.print(f"dashboard: http://{host}:{port}/ui  (sign in with the admin token)")
            out.print(f"API docs:  http://{host}:{port}/docs (Authorize with the admin token)")
            serve_ledger(ledger, host, port)


def _demo_witness_dir(config: Config) -> Path:
    key = Path(config.key)
    directory = key.with_name(f"{key.stem}-witness")
    directory.mkdir(exist_ok=True)
    return directory


def _print_trust_chain(witness: DemoWitness, item: object, host: str, port: int) -> None:
    lines = (
        f"witness: {witness.name} on {witness.url} cosigns every checkpoint "
        f"(its key: {witness.verifier.vkey})",
        f"witness policy: {witness.policy_file}; log key: {witness.log_vkey_file}",
        "check an item's evidence bundle against both, offline:",
        f"  curl -H 'Authorization: Bearer TOKEN' http://{host}:{port}/v1/items/{item}/evidence"
        " -o item.json",
        f"  custody verify-evidence item.json --vkey @{witness.log_vkey_file} "
        f"--policy {witness.policy_file}",
    )
    for line in lines:
        out.print(line, markup=False, highlight=False)


def _demo_usage(config: Config) -> list[str]:
    """Where the demo's store and key are, and the commands that use them."""
    db = shlex.quote(redacted(config.db))
    key = shlex.quote(config.key)
    return [
        f"store: {redacted(config.db)}",
        f"signing key: {config.key} (mode 0600)",
        "use them:",
        f"  custody report unaccounted --db {db} --as-of 2026-06-30",
        f"  custody verify --db {db} --key {key}",
        f"  CUSTODY_DB={db} CUSTODY_KEY={key} custody serve",
    ]


def _fresh_demo_dir(directory: Path) -> Config:
    if directory.exists():
        if not (directory / DEMO_MARKER).exists():
            raise CustodyError(
                f"{directory} exists and is not a demo directory; choose another --dir"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / DEMO_MARKER).write_text("made by `custody demo`; deleted by the next one\n")
    return Config(
        db=f"sqlite:///{directory / 'custody.db'}",
        key=str(directory / "custody.key"),
        origin=Config.from_env().origin,
    )
