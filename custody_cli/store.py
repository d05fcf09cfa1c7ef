"""The store: `init`, `serve`, `verify`, and the read models' `readmodels rebuild` / `follow`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from custody_cli.options import (
    DbOption,
    HostOption,
    KeyOption,
    PortOption,
    load_config,
    open_ledger,
    read_vkey,
)
from custody_cli.output import err, out, with_progress
from ledger.application import Ledger, log_key
from ledger.domain import CustodyError
from ledger.integrity import Signer, generate_signer_key, write_private_key_file
from ledger.readmodels import DerivedChecked, check_read_models, open_views, rebuild
from ledger.store import Config, create_private, redacted
from ledger.verification import split_notes, trusted_checkpoints
from ledger.witness import parse_policy
from policies.audit import check_accounts
from policies.config import PolicyConfig, load_policy
from policies.following import follower_of
from policies.months import rebuild_accounts


def init(
    db: DbOption = None,
    key: KeyOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='print {"admin_token": ..., "vkey": ...}')
    ] = False,
) -> None:
    """Create the store (a SQLite file with mode 0600, or a missing PostgreSQL schema) and the
    ledger's signing key; print an admin token once."""
    config = load_config(db, key)
    token, vkey = initialise(config)
    if as_json:
        print(json.dumps({"admin_token": token, "vkey": vkey}))
        return
    out.print(f"initialised {redacted(config.db)}\nsigning key: {config.key} (mode 0600)")
    out.print(f"verifier key: {vkey}", markup=False)
    out.print(f"admin token (shown once; store it now): {token}", markup=False)


def initialise(config: Config) -> tuple[str, str]:
    """The key first: it signs the receipt of every entry, the bootstrap's too."""
    if Path(config.key).exists():
        raise CustodyError(f"key file {config.key} exists already; refusing to overwrite it")
    create_private(config.db)
    skey = generate_signer_key(config.origin)
    write_private_key_file(config.key, skey)
    signer = Signer.from_text(skey)
    try:
        ledger = open_ledger(config, create_tables=True, signer=signer)
        token = ledger.bootstrap()
    except BaseException:
        Path(config.key).unlink()  # nothing was signed with it
        raise
    ledger.tlog.checkpoint()  # the first signed checkpoint anchors every later verification
    return token, signer.verifier.vkey


def serve(
    db: DbOption = None,
    key: KeyOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve the API (and its OpenAPI docs at /docs) over an initialised store."""
    config = load_config(db, key)
    ledger = open_ledger(config)
    ledger.tlog.signer = log_key(config)
    serve_ledger(ledger, host, port)


def serve_ledger(ledger: Ledger, host: str, port: int) -> None:
    """The API over the ledger, with the server settings of CUSTODY_* (policy, checkpoint clock,
    public tiles)."""
    import uvicorn

    from api.main import configured_app

    app_ = configured_app(ledger, Config.from_env())
    # X-Forwarded-For is read by api/security.py, from CUSTODY_TRUSTED_PROXIES only. uvicorn's
    # defaults http="auto" and loop="auto" take httptools and uvloop, installed (decision 0008).
    uvicorn.run(app_, host=host, port=port, log_level="info", proxy_headers=False)


def verify(
    db: DbOption = None,
    key: KeyOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="the log's verifier key (C2SP vkey text, or @file); default: CUSTODY_KEY's"
        ),
    ] = None,
    trusted: Annotated[
        list[Path] | None,
        typer.Option(
            help="signed checkpoints kept elsewhere (a witness, a receipt, an export): the store "
            "must be consistent with each; repeat for several files"
        ),
    ] = None,
    witness_policy: Annotated[
        Path | None,
        typer.Option(help="a C2SP witness policy: the newest checkpoint must carry its quorum"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="processes checking single entries (0: none); default one per CPU from "
            "20,000 entries on",
        ),
    ] = None,
) -> None:
    """Recompute every leaf, tree node, item chain and checkpoint; check the store against trusted
    checkpoints and a witness policy if given; exit 1 at the first bad one."""
    config = load_config(db, key)
    ledger = open_ledger(config)
    verifier = read_vkey(vkey) if vkey else log_key(config).verifier
    anchors = [
        checkpoint
        for path in trusted or []
        for checkpoint in trusted_checkpoints(
            split_notes(path.read_text(encoding="utf-8"), source=str(path)),
            verifier,
            origin=ledger.origin,
            source=str(path),
        )
    ]
    policy = parse_policy(witness_policy.read_bytes()) if witness_policy else None
    total = 2 * ledger.tlog.size()
    verified = with_progress(
        "verifying",
        total,
        lambda step: ledger.tlog.verify(
            verifier, step, trusted=anchors, witness_policy=policy, workers=workers
        ),
    )
    out.print(
        f"intact: {verified.entries} entries, {verified.nodes} tree nodes, "
        f"{verified.checkpoints} checkpoints; root {verified.root.hex()}"
    )
    if anchors:
        sizes = ", ".join(str(s) for s in sorted({a.size for a in anchors}))
        plural = "s" if verified.trusted != 1 else ""
        out.print(f"consistent with {verified.trusted} trusted checkpoint{plural} (sizes {sizes})")
    if policy is not None:
        out.print(
            f"witnessed: the newest checkpoint is cosigned by {', '.join(verified.cosigned_by)}"
        )
    if not verified.checkpoints:
        err.print("custody: warning: no signed checkpoint yet, so the key was not checked")
    for checked in _derived_state(ledger, config):
        out.print(_derived_line(checked), markup=False, highlight=False)


def _derived_state(ledger: Ledger, config: Config) -> Iterator[DerivedChecked]:
    """The read models, and the stored accounts and month rows of the configured policy, each
    recomputed from the log (ledger/readmodels/derived.py, policies/audit.py); IntegrityFailure
    at the first differing row."""
    yield from check_read_models(ledger)
    yield from check_accounts(ledger, load_policy(config.policy))


def _derived_line(checked: DerivedChecked) -> str:
    line = (
        f"derived: {checked.table}: {checked.rows} rows match the log up to entry "
        f"{checked.position}"
    )
    if checked.behind:
        line += f" ({checked.behind} entries behind the log's {checked.size}: not caught up yet)"
    return line + (f"; {checked.note}" if checked.note else "")


readmodels_app = typer.Typer(
    no_args_is_help=True, help="Read models (docs/readmodels.md): rebuild, follow the log."
)


@readmodels_app.command("rebuild")
def readmodels_rebuild(db: DbOption = None) -> None:
    """Drop the read models' rows and tracking, and apply the whole log again."""
    ledger = open_ledger(Config.from_env(db=db))
    views = open_views(ledger)
    applied = with_progress(
        "rebuilding",
        ledger.tlog.size(),
        lambda step: rebuild(ledger.log_store, views, progress=step),
    )
    out.print(f"rebuilt the read models: {applied} entries applied")
    indexed = ledger.log_store.rebuild_serials()
    out.print(f"rebuilt the index of identities (docs/identity.md): {indexed} items")
    policy = load_policy(Config.from_env(db=db).policy)
    items = with_progress(
        "stored accounts",
        sum(1 for _ in ledger.item_ids()),
        lambda step: rebuild_accounts(ledger, policy, progress=step),
    )
    out.print(f"rebuilt the stored accounts (docs/policies.md): {items} items")


@readmodels_app.command("follow")
def readmodels_follow(
    once: Annotated[bool, typer.Option("--once", help="catch up once, then stop")] = False,
    every: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0,
    db: DbOption = None,
) -> None:
    """Apply the entries recorded since the last run to the read models, then recompute the
    stored accounts they change; then poll the log until stopped."""
    config = Config.from_env(db=db)
    ledger = open_ledger(config)
    views = open_views(ledger)
    follower = follower_of(ledger, load_policy(config.policy))
    while True:
        before = views.position()
        follower.catch_up()
        applied = views.position() - before
        if once or applied:
            out.print(f"applied {applied} entries; the read models are at {views.position()}")
        if once:
            return
        time.sleep(every)


def follow_log(ledger: Ledger, policy: PolicyConfig) -> None:
    """Bring the read models and the policy's stored accounts up to date, a progress bar each
    (`custody import` at its end; `custody report`, a process of its own, first)."""
    for step in follower_of(ledger, policy).steps:
        todo = step.behind()
        if todo:
            with_progress(f"following the log: {step.name}", todo, step.catch_up)
