"""The `custody` command. Thin: parse, call the Ledger, print. Errors end in one line and exit 1.

It sits beside api/ at the top of the layering (it starts the server), so it lives outside ledger/.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup
from typer.exceptions import TyperException

from api.client import CustodyClient, LogClient
from api.demo_witness import DemoWitness, demo_witness
from api.witness_app import create_witness_app
from api.witnessing import witnessing
from ledger.application import directory
from ledger.application.ledger import OPERATOR, Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import CustodyError
from ledger.domain.ids import check_party_id
from ledger.domain.times import aware_utc, format_time, parse_moment, system_clock
from ledger.domain.tokens import Role
from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.endorsements import confirm_key, prove_key
from ledger.integrity.signing import (
    Signer,
    Verifier,
    generate_signer_key,
    read_private_key_file,
    write_private_key_file,
)
from ledger.integrity.submissions import key_id
from ledger.operations import backup
from ledger.operations import demo as demo_programme
from ledger.operations.imports import file_digest, import_rows, read_rows
from ledger.readmodels import models as readmodels
from ledger.readmodels.derived import DerivedChecked, check_read_models
from ledger.readmodels.reconciliation import Count, Line, take_inventory
from ledger.readmodels.search import Candidate, Filters, Pattern, resolve_item, search
from ledger.store import stores
from ledger.store.config import Config, redacted
from ledger.store.witness_store import SQLiteWitnessState
from ledger.verification.client_state import ClientState, max_merge_delay, state_dir
from ledger.verification.evidence import dump_bundle
from ledger.verification.evidence_check import describe, load_bundle, verify_bundle
from ledger.verification.misbehaviour import check_misbehaviour, load_misbehaviour
from ledger.verification.monitor import monitor_step
from ledger.verification.receipt_check import ReceiptSource, check_receipts
from ledger.verification.trusted import split_notes, trusted_checkpoints
from ledger.witness.cosignatures import CosignerKey, generate_cosigner_key
from ledger.witness.witness import Witness
from ledger.witness.witness_policy import parse_policy
from policies.audit import check_accounts
from policies.config import PolicyConfig, load_policy
from policies.engine import Scope, UnaccountedReport, rebuild_accounts, unaccounted_report
from policies.export import report_csv
from policies.following import follower_of


class _Commands(TyperGroup):
    """The root group: every command, a command added later too, runs inside `_failures`, so no
    failure ends in a traceback unless `--debug` asks for it."""

    def invoke(self, ctx: Any) -> Any:
        with _failures():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands,
    add_completion=False,
    no_args_is_help=True,
    help="Custody: a tamper-evident ledger of weapon custody.",
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="store URL; overrides CUSTODY_DB (sqlite:///path or postgresql://...)"
    ),
]
KeyOption = Annotated[
    Path | None,
    typer.Option("--key", help="the ledger's signing key file; overrides CUSTODY_KEY"),
]
HostOption = Annotated[str, typer.Option(help="address to listen on")]
PortOption = Annotated[int, typer.Option(help="port to listen on")]
DEMO_DIR = Path("custody-demo")
DEMO_MARKER = ".custody-demo"


DEBUG = {"on": False}
"""`--debug` (or CUSTODY_DEBUG=1): a failure shows its traceback instead of one line."""


def main() -> None:
    app()


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="CUSTODY_DEBUG", help="on a failure, show the traceback too"
        ),
    ] = False,
) -> None:
    """Custody: a tamper-evident ledger of weapon custody."""
    DEBUG["on"] = debug


@contextmanager
def _failures() -> Iterator[None]:
    """Every failure ends as one line on stderr naming the fix, and exit status 1; typer's own
    exits and usage errors (exit 2) pass through. `--debug` lets the exception through."""
    try:
        yield
    except (TyperException, typer.Exit, typer.Abort):
        raise
    except Exception as error:
        if DEBUG["on"]:
            raise
        line = " ".join(_one_line(error).split())
        err.print(f"custody: {line}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _one_line(error: Exception) -> str:
    """What went wrong and, where it is known, what to do about it."""
    if isinstance(error, CustodyError):
        return error.message
    if isinstance(error, FileNotFoundError):
        return f"no such file: {error.filename}"
    if isinstance(error, OSError):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    if isinstance(error, httpx.TransportError):
        where = error.request.url if _has_request(error) else "the server"
        return (
            f"cannot reach {where} ({error or type(error).__name__}): is `custody serve`"
            " running there? (--server, CUSTODY_SERVER)"
        )
    if isinstance(error, PersistenceError):
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"the store cannot be used: {first} (--db, CUSTODY_DB)"
    return (
        f"unexpected error: {type(error).__name__}: {error}; run `custody --debug ...` for the"
        " traceback, and report it"
    )


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - httpx raises if the error has no request
    except RuntimeError:
        return False
    return True


def _open_ledger(
    config: Config, *, create_tables: bool = False, signer: Signer | None = None
) -> Ledger:
    """The ledger in the store; a command that does not create one (`create_tables`) is refused
    in one line, creating no file, if there is none."""
    if not create_tables:
        stores.require_store(config.db)
    ledger = Ledger(
        clock=system_clock,
        db=config.db,
        origin=config.origin,
        create_tables=create_tables,
        signer=signer,
        signed_roles=config.signed_roles,
        bounds=config.bounds,
        **witnessing(config.witness_policy),
    )
    if not create_tables and not ledger.is_initialised():
        raise stores.missing(config.db)
    return ledger


def _config(db: str | None, key: Path | None = None) -> Config:
    """CUSTODY_* from the environment, with --db and --key over them."""
    config = Config.from_env(db=db)
    return replace(config, key=str(key)) if key is not None else config


def _signer(config: Config) -> Signer:
    if not Path(config.key).exists():
        raise CustodyError(
            f"no signing key at {config.key}: pass --key FILE or set CUSTODY_KEY to the key"
            " `custody init` wrote"
        )
    return Signer.from_text(read_private_key_file(config.key))


@app.command()
def init(
    db: DbOption = None,
    key: KeyOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='print {"admin_token": ..., "vkey": ...}')
    ] = False,
) -> None:
    """Create the store (a SQLite file with mode 0600, or a missing PostgreSQL schema) and the
    ledger's signing key; print an admin token once."""
    with _failures():
        config = _config(db, key)
        token, vkey = _initialise(config)
        if as_json:
            print(json.dumps({"admin_token": token, "vkey": vkey}))
            return
        out.print(f"initialised {redacted(config.db)}\nsigning key: {config.key} (mode 0600)")
        out.print(f"verifier key: {vkey}", markup=False)
        out.print(f"admin token (shown once; store it now): {token}", markup=False)


def _initialise(config: Config) -> tuple[str, str]:
    """The key first: it signs the receipt of every entry, the bootstrap's too."""
    if Path(config.key).exists():
        raise CustodyError(f"key file {config.key} exists already; refusing to overwrite it")
    stores.create_private(config.db)
    skey = generate_signer_key(config.origin)
    write_private_key_file(config.key, skey)
    signer = Signer.from_text(skey)
    try:
        ledger = _open_ledger(config, create_tables=True, signer=signer)
        token = ledger.bootstrap()
    except BaseException:
        Path(config.key).unlink()  # nothing was signed with it
        raise
    ledger.checkpoint()  # the first signed checkpoint anchors every later verification
    return token, signer.verifier.vkey


@app.command()
def serve(
    db: DbOption = None,
    key: KeyOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve the API (and its OpenAPI docs at /docs) over an initialised store."""
    with _failures():
        config = _config(db, key)
        ledger = _open_ledger(config)
        ledger.signer = _signer(config)
        _serve(ledger, host, port)


def _serve(ledger: Ledger, host: str, port: int) -> None:
    import uvicorn

    from api.main import FOLLOW_INTERVAL, create_app

    config = Config.from_env()
    app_ = create_app(
        ledger,
        load_policy(config.policy),
        checkpoint_interval=config.checkpoint_interval,
        follow_interval=FOLLOW_INTERVAL,  # also follows other processes' writes (api/follower.py)
    )
    # X-Forwarded-For is read by api/security.py, from CUSTODY_TRUSTED_PROXIES only.
    uvicorn.run(app_, host=host, port=port, log_level="info", proxy_headers=False)


@app.command()
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
    with _failures():
        config = Config.from_env(db=db) if db else _fresh_demo_dir(directory)
        token, vkey = _initialise(config)
        witness_dir = _demo_witness_dir(config) if db else directory
        with demo_witness(
            witness_dir, log=Verifier.from_vkey(vkey), host="127.0.0.1", port=witness_port
        ) as witness:
            config = replace(config, witness_policy=str(witness.policy_file))
            ledger = _open_ledger(config, signer=_signer(config))
            built = _with_progress(
                "building the demo programme",
                items,
                lambda step: demo_programme.build(
                    ledger, now=system_clock(), items=items, progress=step
                ),
            )
            ledger.checkpoint()  # cosigned by the witness
            out.print(
                f"demo ledger: {len(built.items)} items, {built.events} events in "
                f"{redacted(config.db)}"
            )
            out.print(f"admin token: {token}", markup=False)
            for line in _demo_usage(config):
                out.print(line, markup=False, highlight=False)
            _print_trust_chain(witness, built.items[0], host, port)
            if serve_it:
                out.print(f"dashboard: http://{host}:{port}/ui  (sign in with the admin token)")
                out.print(f"API docs:  http://{host}:{port}/docs (Authorize with the admin token)")
                _serve(ledger, host, port)


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


@app.command()
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
) -> None:
    """Recompute every leaf, tree node, item chain and checkpoint; check the store against trusted
    checkpoints and a witness policy if given; exit 1 at the first bad one."""
    with _failures():
        config = _config(db, key)
        ledger = _open_ledger(config)
        verifier = _verifier(vkey) if vkey else _signer(config).verifier
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
        total = 2 * ledger.log_store.log_size()
        verified = _with_progress(
            "verifying",
            total,
            lambda step: ledger.verify(verifier, step, trusted=anchors, witness_policy=policy),
        )
        out.print(
            f"intact: {verified.entries} entries, {verified.nodes} tree nodes, "
            f"{verified.checkpoints} checkpoints; root {verified.root.hex()}"
        )
        if anchors:
            sizes = ", ".join(str(s) for s in sorted({a.size for a in anchors}))
            plural = "s" if verified.trusted != 1 else ""
            out.print(
                f"consistent with {verified.trusted} trusted checkpoint{plural} (sizes {sizes})"
            )
        if policy is not None:
            out.print(
                f"witnessed: the newest checkpoint is cosigned by {', '.join(verified.cosigned_by)}"
            )
        if not verified.checkpoints:
            err.print("custody: warning: no signed checkpoint yet, so the key was not checked")
        for checked in _derived_state(ledger, config):
            out.print(_derived_line(checked), markup=False, highlight=False)


def _derived_state(ledger: Ledger, config: Config) -> Iterator[DerivedChecked]:
    """The read models and the stored accounts of the configured policy, each recomputed from
    the log (ledger/readmodels/derived.py, policies/audit.py); IntegrityFailure at the first
    differing row."""
    yield from check_read_models(ledger)
    accounts = check_accounts(ledger, load_policy(config.policy))
    if accounts is not None:
        yield accounts


def _derived_line(checked: DerivedChecked) -> str:
    line = (
        f"derived: {checked.table}: {checked.rows} rows match the log up to entry "
        f"{checked.position}"
    )
    if checked.behind:
        line += f" ({checked.behind} entries behind the log's {checked.size}: not caught up yet)"
    return line + (f"; {checked.note}" if checked.note else "")


def _verifier(vkey: str) -> Verifier:
    text = Path(vkey[1:]).read_text(encoding="utf-8") if vkey.startswith("@") else vkey
    return Verifier.from_vkey(text.strip())


token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens: create, list, revoke.")
app.add_typer(token_app, name="token")
OPERATOR_ACTOR = Actor(OPERATOR, Role.ADMIN)  # whoever holds the store acts as its operator


@token_app.command("create")
def token_create(
    party: Annotated[str, typer.Option(help="the party the token acts for")],
    role: Annotated[
        str, typer.Option(help="admin, supplier, partner, inspector, oversight, investigator")
    ],
    db: DbOption = None,
) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    with _failures():
        config = Config.from_env(db=db)
        ledger = _open_ledger(config, signer=_signer(config))
        token, recorded = ledger.grant_token(party=party, role=role, actor=OPERATOR_ACTOR)
        err.print(f"token {recorded.id} for {party} as {role} (shown once):")
        print(token)


@token_app.command("list")
def token_list(db: DbOption = None) -> None:
    """Every token's id, party, role and state (never the token itself)."""
    with _failures():
        ledger = _open_ledger(Config.from_env(db=db))
        for t in ledger.tokens(actor=OPERATOR_ACTOR):
            out.print(
                f"{t.token_id}  {t.party}  {t.role.value}  {'revoked' if t.revoked else 'active'}"
            )


@token_app.command("revoke")
def token_revoke(token_id: str, db: DbOption = None) -> None:
    """Revoke a token by its id (from `custody token list`)."""
    with _failures():
        config = Config.from_env(db=db)
        ledger = _open_ledger(config, signer=_signer(config))
        ledger.revoke_token(token_id, actor=OPERATOR_ACTOR)
        out.print(f"revoked {token_id}")


@app.command()
def keygen(
    party: Annotated[str, typer.Option(help="the party the key signs for")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the private key file (0600)")],
    origin: Annotated[
        str | None, typer.Option(help="the log's origin: also print the registration body")
    ] = None,
    endorse_with: Annotated[
        Path | None, typer.Option(help="an active key file of the party, to endorse a rotation")
    ] = None,
) -> None:
    """Make a party signing key; register its public key with POST /v1/parties/{party}/keys
    (with --origin, the body to POST: the key, its proof, and the endorsement if rotating)."""
    with _failures():
        signer = Signer.from_text(generate_signer_key(check_party_id(party)))
        endorsing = Signer.from_text(read_private_key_file(endorse_with)) if endorse_with else None
        write_private_key_file(output, signer.to_text())
        public = base64.b64encode(signer.verifier.public_key).decode("ascii")
        out.print(f"private key: {output} (mode 0600)\npublic key: {public}")
        out.print(f"key id: {key_id(signer.verifier.public_key)}")
        if origin is not None:
            body = prove_key(
                signer.private_key,
                origin=origin,
                party=party,
                endorsing_key=endorsing.private_key if endorsing else None,
            )
            out.print(f"registration: {json.dumps(body, sort_keys=True)}", soft_wrap=True)


keys_app = typer.Typer(no_args_is_help=True, help="Party keys: history, confirmation.")
app.add_typer(keys_app, name="keys")


@keys_app.command("history")
def keys_history(
    party: Annotated[str, typer.Option(help="the party whose keys to list")],
    db: DbOption = None,
) -> None:
    """Every key ever registered for the party: when, by whom, how endorsed, revoked."""
    with _failures():
        records = _open_ledger(Config.from_env(db=db)).key_history(party)
        table = Table(title=f"Keys of {party}")
        columns = ("key id", "registered", "by", "endorsement", "revoked", "log index")
        for column in columns:
            table.add_column(column)
        for k in records:
            revoked = format_time(k.revoked_at) if k.revoked_at else ""
            if k.revocation_reason:
                revoked += f" ({k.revocation_reason})"
            table.add_row(
                k.key_id,
                format_time(k.registered_at),
                k.registered_by,
                k.how,
                revoked,
                str(k.log_index),
            )
        out.print(table)


@keys_app.command("confirm")
def keys_confirm(
    key: Annotated[Path, typer.Option(help="the party's private key file to confirm")],
    origin: Annotated[str, typer.Option(help="the log's origin")],
) -> None:
    """Print the body of POST /v1/parties/{party}/keys/{key_id}/confirmation for the key."""
    with _failures():
        signer = Signer.from_text(read_private_key_file(key))
        body = confirm_key(signer.private_key, origin=origin, party=signer.name)
        kid = key_id(signer.verifier.public_key)
        out.print(f"POST /v1/parties/{signer.name}/keys/{kid}/confirmation")
        out.print(json.dumps(body), soft_wrap=True)


ServerOption = Annotated[str, typer.Option(envvar="CUSTODY_SERVER", help="the API's address")]
TokenOption = Annotated[str, typer.Option(envvar="CUSTODY_TOKEN", help="a bearer token")]
LogKeyOption = Annotated[
    str | None,
    typer.Option(
        "--vkey",
        help="the log's verifier key (vkey text, or @file); default: the one kept in the state "
        "folder, else the server's (trusted on first use)",
    ),
]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def _client_state() -> ClientState:
    return ClientState(state_dir(os.environ))


def _log_key(state: ClientState, log: LogClient, vkey: str | None) -> Verifier:
    """The log key to check answers with: --vkey, else the kept one, else the server's, trusted on
    first use (said on stderr). A key other than the kept one is refused, never swapped in."""
    key = _verifier(vkey) if vkey else log.key()
    if state.trust_log_key(key) and not vkey:
        err.print(
            f"custody: trusting the log key {key.vkey} on first use (the server's answer); kept "
            f"in {state.root}; pin the key you trust with --vkey",
            markup=False,
            highlight=False,
        )
    return key


def _pull(state: ClientState, log: LogClient, key: Verifier) -> Checkpoint:
    """The log's latest checkpoint, checked against and then replacing the kept one."""
    return state.accept_checkpoint(log.checkpoint(), key, log.consistency, now=system_clock())


ManufacturerOption = Annotated[
    str | None, typer.Option(help="with --model: ITEM is a serial as marked, not an item id")
]
ModelOption = Annotated[str | None, typer.Option(help="the model of the serial given as ITEM")]


@app.command()
def submit(
    action: Annotated[
        str,
        typer.Argument(
            help="issue, transfer, receive, inspect, report_lost, recover, sight, dispose, correct"
        ),
    ],
    item: Annotated[
        str | None,
        typer.Argument(help="the item id, or its serial with --manufacturer and --model"),
    ] = None,
    data: Annotated[str, typer.Option(help="the JSON body, or @file")] = "{}",
    key: Annotated[Path, typer.Option(help="the party's private key file (custody keygen)")] = Path(
        "party.key"
    ),
    server: ServerOption = DEFAULT_SERVER,
    token: Annotated[
        str, typer.Option(envvar="CUSTODY_TOKEN", help="a bearer token of the party")
    ] = "",
    nonce: Annotated[
        str | None, typer.Option(help="reuse to resend the same submission safely")
    ] = None,
    vkey: LogKeyOption = None,
    manufacturer: ManufacturerOption = None,
    model: ModelOption = None,
) -> None:
    """Sign a submission with the party key and send it; print the answer. The log's checkpoint
    is checked against the state folder first, and the answer's receipt is verified and kept."""
    with _failures():
        if not key.exists():
            raise CustodyError(
                f"no party key at {key}: pass --key FILE (a key from `custody keygen`)"
            )
        signer = Signer.from_text(read_private_key_file(key))
        body = _json_data(data)
        marking = _marking(manufacturer, model)  # a usage error, told before any token or network
        if not token:
            raise CustodyError(
                "no token: pass --token or set CUSTODY_TOKEN (`custody token create` makes one)"
            )
        state, log = _client_state(), LogClient(server, token)
        log_key = _log_key(state, log, vkey)
        origin = _pull(state, log, log_key).origin
        client = CustodyClient(
            server, token, party=signer.name, key=signer.private_key, origin=origin
        )
        if item is not None and marking is not None:
            found = client.item_by_serial(item, manufacturer=marking[0], model=marking[1])
            item = _one_id(found, f"{marking[0]} {marking[1]} serial {item!r}")
        response = client.submit(action, item, body, nonce=nonce)
        print(response.text)
        if response.status_code == 401:
            err.print("custody: the server refused the token: check --token or CUSTODY_TOKEN")
        if response.is_error:
            raise typer.Exit(1)
        _keep_receipt(state, log_key, response.json())


def _keep_receipt(state: ClientState, key: Verifier, answer: dict[str, object]) -> None:
    note = answer.get("receipt")
    if not isinstance(note, str):
        raise CustodyError("the server recorded the write but answered without a receipt")
    receipt = state.keep_receipt(note, key, now=system_clock())
    if receipt.log_index != answer.get("log_index"):
        raise CustodyError(
            f"the receipt is for entry {receipt.log_index}, "
            f"the answer for entry {answer.get('log_index')}"
        )
    err.print(f"custody: kept the log's receipt of entry {receipt.log_index} in {state.root}")


def _json_data(data: str) -> object:
    """--data: a JSON object, or @file holding one."""
    text = Path(data[1:]).read_text(encoding="utf-8") if data.startswith("@") else data
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise CustodyError(
            f"--data is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(body, dict):
        raise CustodyError("--data must be a JSON object, e.g. '{\"occurred_at\": ...}'")
    return body


def _marking(manufacturer: str | None, model: str | None) -> tuple[str, str] | None:
    """(manufacturer, model) when ITEM is a serial; None when it is an item id."""
    if manufacturer is None and model is None:
        return None
    if manufacturer is None or model is None:
        raise CustodyError("give both --manufacturer and --model with a serial, or neither")
    return manufacturer, model


def _one_id(found: list[str], what: str) -> str:
    if len(found) != 1:
        listed = f": {', '.join(found)}" if found else ""
        raise CustodyError(f"{what} names {len(found)} items{listed}")
    return found[0]


@app.command()
def evidence(
    item: Annotated[
        str, typer.Argument(help="the item id, or its serial with --manufacturer and --model")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the bundle")],
    db: DbOption = None,
    key: KeyOption = None,
    manufacturer: ManufacturerOption = None,
    model: ModelOption = None,
) -> None:
    """Write the item's evidence bundle: its entries, proofs, checkpoint, and the keys to check."""
    with _failures():
        config = _config(db, key)
        ledger = _open_ledger(config, signer=_signer(config))
        marking = _marking(manufacturer, model)
        if marking is not None:
            fleet = readmodels.Fleet.of(ledger)
            maker, kind = marking
            found = resolve_item(
                ledger, fleet, item, manufacturer=maker, model=kind, actor=OPERATOR_ACTOR
            )
            item = str(found)
        bundle = ledger.evidence(item)
        state = _client_state()
        state.trust_log_key(ledger.verifier())
        state.accept_checkpoint(
            bundle["checkpoint"], ledger.verifier(), ledger.consistency_proof, now=system_clock()
        )
        output.write_bytes(dump_bundle(bundle))
        out.print(f"wrote {output}: {len(bundle['entries'])} entries of item {item}")


@app.command("verify-evidence")
def verify_evidence(
    bundle: Annotated[Path, typer.Argument(help="an evidence bundle (custody evidence)")],
    vkey: Annotated[str, typer.Option(help="the log's verifier key (vkey text, or @file)")],
    policy: Annotated[
        Path | None, typer.Option(help="a C2SP witness policy: require its quorum of cosignatures")
    ] = None,
) -> None:
    """Check a bundle offline with the log's published key; print the custody timeline."""
    with _failures():
        witnesses = parse_policy(policy.read_bytes()) if policy else None
        report = verify_bundle(load_bundle(bundle.read_bytes()), _verifier(vkey), policy=witnesses)
        for line in describe(report):
            out.print(line, markup=False, highlight=False)


checkpoint_app = typer.Typer(no_args_is_help=True, help="The log's signed checkpoints.")
app.add_typer(checkpoint_app, name="checkpoint")


@checkpoint_app.command("pull")
def checkpoint_pull(
    server: ServerOption = DEFAULT_SERVER, token: TokenOption = "", vkey: LogKeyOption = None
) -> None:
    """Fetch the log's latest checkpoint and check it against the one kept in the state folder
    (docs/verification.md, section 11): a fork or rollback exits 1 and leaves a misbehaviour
    file."""
    with _failures():
        state, log = _client_state(), LogClient(server, token)
        key = _log_key(state, log, vkey)
        kept = state.checkpoint(key.name)
        checkpoint = _pull(state, log, key)
        since = "first seen" if kept is None else "consistent with the kept one"
        out.print(
            f"checkpoint of {checkpoint.origin}: size {checkpoint.size}, root "
            f"{checkpoint.root_hash.hex()} ({since}); kept in {state.root}",
            markup=False,
        )


@app.command()
def monitor(
    url: Annotated[str, typer.Argument(help="the log's tlog-tiles prefix, e.g. http://host/tlog")],
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="the log's verifier key (vkey text, or @file); needed the first time, then the "
            "one kept in the state folder",
        ),
    ] = None,
    every: Annotated[
        float, typer.Option(help="seconds between checks; 0 (the default) checks once, for cron")
    ] = 0,
    witness_policy: Annotated[
        Path | None,
        typer.Option(help="a C2SP tlog-policy: each checkpoint must meet its witness quorum"),
    ] = None,
    token: Annotated[
        str,
        typer.Option(
            envvar="CUSTODY_TOKEN",
            help="a token that reads every entry: re-hash the new entries against the tiles",
        ),
    ] = "",
) -> None:
    """Follow a log through its public tiles (docs/monitoring.md): check each new checkpoint's
    signature, its root against the tiles, and its consistency with the one kept in the state
    folder; one line per new checkpoint. A fork or rollback exits 1 and leaves a misbehaviour
    file."""
    with _failures():
        state, fetch = _client_state(), _tile_fetch(url, token)
        policy = parse_policy(witness_policy.read_bytes()) if witness_policy else None
        origin = fetch("checkpoint").decode("utf-8").split("\n", 1)[0]
        key = _verifier(vkey) if vkey else state.log_key(origin)
        if key is None:
            raise CustodyError(
                f"no key is kept for the log {origin!r} in {state.root}: pass --vkey the first time"
            )
        state.trust_log_key(key)
        first = True
        while True:
            step = monitor_step(
                state, key, fetch, now=system_clock(), policy=policy, entries=bool(token)
            )
            if step.new or first:
                out.print(step.line(), markup=False, highlight=False)
            if every <= 0:
                return
            first = False
            time.sleep(every)


def _tile_fetch(url: str, token: str = "") -> Callable[[str], bytes]:
    http, base = httpx.Client(timeout=30), url.rstrip("/")
    if token:
        http.headers["Authorization"] = f"Bearer {token}"

    def fetch(path: str) -> bytes:
        response = http.get(f"{base}/{path}")
        if response.is_error:
            raise CustodyError(
                f"{base}/{path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.content

    return fetch


receipts_app = typer.Typer(no_args_is_help=True, help="The receipts kept of this client's writes.")
app.add_typer(receipts_app, name="receipts")


@receipts_app.command("check")
def receipts_check(
    server: ServerOption = DEFAULT_SERVER, token: TokenOption = "", vkey: LogKeyOption = None
) -> None:
    """Prove each kept receipt's entry is in the log's current checkpoint (its inclusion proof);
    an entry that differs, or one still missing after the maximum merge delay (CUSTODY_MMD
    seconds), exits 1 and leaves a misbehaviour file."""
    with _failures():
        state, log = _client_state(), LogClient(server, token)
        key = _log_key(state, log, vkey)
        checkpoint = _pull(state, log, key)
        note = state.checkpoint(key.name) or ""
        source = ReceiptSource(log.entry, log.inclusion)
        results = check_receipts(
            state,
            key,
            checkpoint,
            note,
            source,
            now=system_clock(),
            max_delay=max_merge_delay(os.environ),
        )
        for result in results:
            out.print(result.line(), markup=False, highlight=False)
        out.print(f"{len(results)} receipts against the checkpoint of size {checkpoint.size}")
        if any(r.failed for r in results):
            raise typer.Exit(1)


@app.command("verify-misbehaviour")
def verify_misbehaviour(
    file: Annotated[Path, typer.Argument(help="a misbehaviour file from the state folder")],
    vkey: Annotated[str, typer.Option(help="the log's verifier key (vkey text, or @file)")],
) -> None:
    """Check a misbehaviour file offline with the log's key and say what it proves."""
    with _failures():
        finding = check_misbehaviour(load_misbehaviour(file.read_bytes()), _verifier(vkey))
        weight = "proven" if finding.conclusive else "not proof alone"
        out.print(f"{finding.kind} ({weight}): {finding.statement}", markup=False)


@app.command()
def find(
    pattern: Annotated[
        str, typer.Argument(help="a serial as read: ? for one unreadable character, * for a run")
    ],
    at: Annotated[
        datetime | None, typer.Option(help="also holder and status at this time (RFC 3339)")
    ] = None,
    manufacturer: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    cursor: Annotated[str | None, typer.Option(help="the `next` of an earlier page")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
    db: DbOption = None,
) -> None:
    """Find items by a full or partial serial: ranked candidates (docs/identity.md)."""
    with _failures():
        ledger = _open_ledger(Config.from_env(db=db))
        found = search(
            ledger,
            readmodels.Fleet.of(ledger),
            Pattern.parse(pattern),
            filters=Filters(manufacturer=manufacturer, model=model, category=category),
            actor=OPERATOR_ACTOR,
            at=aware_utc(at, field="at") if at is not None else None,
            cursor=cursor,
        )
        if as_json:
            items = [_candidate_json(c) for c in found.candidates]
            print(json.dumps({"items": items, "next": found.next}, ensure_ascii=False))
            return
        out.print(_candidates_table(pattern, found.candidates))
        if found.next:
            out.print(f"more: --cursor {found.next}", markup=False)


def _candidate_json(candidate: Candidate) -> dict[str, object]:
    fields = dataclasses.asdict(candidate)
    return fields | {"item_id": str(candidate.item_id)}


def _candidates_table(pattern: str, candidates: list[Candidate]) -> Table:
    table = Table(title=f"{len(candidates)} candidates for {pattern}")
    for column in ("serial", "match", "unknowns", "holder", "status", "then", "verified", "item"):
        table.add_column(column)
    for c in candidates:
        then = f"{c.at['holder']} {c.at['status']}" if c.at else ""
        seen = c.last_verified_inspection
        verified = f"{seen['occurred_at']} {seen['inspector']}" if seen else ""
        table.add_row(
            c.serial, c.match, str(c.unknowns), c.holder, c.status, then, verified, str(c.item_id)
        )
    return table


@app.command()
def inventory(
    file: Annotated[Path, typer.Argument(help="a scanner export: CSV with a `serial` column")],
    recipient: Annotated[str, typer.Option(help="the recipient (force or unit) counted")],
    at: Annotated[datetime, typer.Option(help="when the count was taken (RFC 3339)")],
    method: Annotated[str, typer.Option(help="physical, serial_read, photo")] = "serial_read",
    site: Annotated[str | None, typer.Option()] = None,
    manufacturer: Annotated[str | None, typer.Option(help="if one model was counted")] = None,
    model: Annotated[str | None, typer.Option(help="if one model was counted")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the reconciliation as JSON")
    ] = False,
    db: DbOption = None,
    key: KeyOption = None,
) -> None:
    """Record a serial-number inventory and print its reconciliation with the book."""
    with _failures():
        config = _config(db, key)
        ledger = _open_ledger(config, signer=_signer(config))
        count = Count(
            recipient=recipient,
            occurred_at=aware_utc(at, field="at"),
            method=method,
            serials=_counted_serials(file),
            site=site,
            manufacturer=manufacturer,
            model=model,
        )
        done = take_inventory(ledger, readmodels.Fleet.of(ledger), count, actor=OPERATOR_ACTOR)
        if as_json:
            lines = [_line_json(line) for line in done.lines]
            print(
                json.dumps(
                    {
                        "inventory_id": str(done.inventory_id),
                        "counts": done.counts(),
                        "lines": lines,
                    },
                    ensure_ascii=False,
                )
            )
            return
        counts = ", ".join(f"{k} {v}" for k, v in done.counts().items())
        out.print(f"inventory {done.inventory_id} (log index {done.log_index}): {counts}")
        for line in done.lines:
            if line.status != "on_book":
                holder = f" ({line.holder})" if line.holder else ""
                out.print(
                    f"{line.status}: {line.serial} {line.item_id or ''}{holder}", markup=False
                )


def _line_json(line: Line) -> dict[str, object]:
    item = None if line.item_id is None else str(line.item_id)
    return {"status": line.status, "serial": line.serial, "item_id": item, "holder": line.holder}


def _counted_serials(file: Path) -> list[str]:
    rows = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8-sig"))))
    if not rows:
        raise CustodyError(f"{file} is empty")
    header = [h.strip().lower() for h in rows[0]]
    column = header.index("serial") if "serial" in header else 0
    body = rows[1:] if "serial" in header else rows
    return [row[column] for row in body if len(row) > column and row[column].strip()]


@app.command()
def witness(
    key: Annotated[Path, typer.Option(help="the witness's cosigner key (custody witness-keygen)")],
    log: Annotated[list[str], typer.Option(help="a log's verifier key (vkey) to witness; repeat")],
    db: Annotated[Path, typer.Option("--db", help="the witness's own store")] = Path("witness.db"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8100,
) -> None:
    """Run an independent witness (C2SP tlog-witness): POST /add-checkpoint."""
    import uvicorn

    with _failures():
        cosigner = CosignerKey.from_text(read_private_key_file(key, check=CosignerKey.from_text))
        logs = {v.name: v for v in (_verifier(text) for text in log)}
        state = SQLiteWitnessState(db)
        app_ = create_witness_app(Witness(cosigner, logs, state, system_clock), state)
        out.print(f"witness {cosigner.verifier.vkey} for {', '.join(logs)} on http://{host}:{port}")
        uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command("witness-keygen")
def witness_keygen(
    name: Annotated[str, typer.Option(help="the witness's name, e.g. witness.example.org")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the private key file (0600)")],
) -> None:
    """Make a witness cosigner key; prints the verifier key for witness policies."""
    with _failures():
        text = generate_cosigner_key(name)
        write_private_key_file(output, text, check=CosignerKey.from_text)
        vkey = CosignerKey.from_text(text).verifier.vkey
        out.print(f"private key: {output} (mode 0600)\nverifier key: {vkey}")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="a CSV with a header row, or JSON lines (.jsonl)")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="rows per atomic batch")] = 500,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows; still report the others")
    ] = False,
    db: DbOption = None,
) -> None:
    """Issue items and record events in bulk: every row checked first, then atomic batches.
    Running the same file again skips what was stored (docs/import.md)."""
    with _failures():
        data = file.read_bytes()
        kind = "jsonl" if file.suffix in (".jsonl", ".ndjson") else "csv"
        rows, problems = read_rows(data, kind=kind, now=system_clock())
        for problem in problems:
            err.print(f"{file}:{problem}", markup=False, highlight=False)
        if problems and not skip_invalid:
            raise CustodyError(f"{len(problems)} rows need fixing; nothing was imported")
        bad = {p.line for p in problems}
        rows = [r for r in rows if r.line not in bad]
        config = Config.from_env(db=db)
        ledger = _open_ledger(config, signer=_signer(config))
        outcome = _with_progress(
            "importing",
            len(rows),
            lambda step: import_rows(
                ledger,
                rows,
                actor=OPERATOR_ACTOR,
                digest=file_digest(data),
                batch_size=batch,
                progress=step,
            ),
        )
        out.print(
            f"stored {outcome.stored} rows in {outcome.batches} batches; "
            f"{outcome.skipped} were stored by an earlier run; {len(bad)} skipped as invalid"
        )
        _follow(ledger, load_policy(config.policy))
        for problem in outcome.problems:
            raise CustodyError(
                f"{file}:{problem}; {outcome.what_was_stored()}: fix it and run the same file again"
            )


@app.command()
def export(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="the backup file (a name ending .gz compresses)")
    ],
    db: DbOption = None,
    key: KeyOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="without the signing key: export up to the latest signed checkpoint, checked "
            "with this key (vkey text, or @file)"
        ),
    ] = None,
) -> None:
    """Write the whole ledger to one file: entries, stored events, checkpoints (docs/backup.md).
    With the signing key (--key, CUSTODY_KEY) it first signs a checkpoint of the whole log."""
    with _failures():
        config = _config(db, key)
        if vkey is None:
            ledger = _open_ledger(config, signer=_signer(config))
            ledger.checkpoint()
            verifier = ledger.verifier()
        else:
            ledger, verifier = _open_ledger(config), _verifier(vkey)
        latest = ledger.log_store.latest_checkpoint()
        summary = _with_progress(
            "exporting",
            latest[0] if latest else 0,
            lambda step: backup.export_file(
                ledger, output, verifier=verifier, now=system_clock(), progress=step
            ),
        )
        out.print(
            f"wrote {output}: {summary.entries} entries, {summary.checkpoints} checkpoints; "
            f"root {summary.root.hex()}; sha256 {summary.sha256}"
        )
        left_out = ledger.log_store.log_size() - summary.entries
        if left_out:
            err.print(f"custody: note: {left_out} entries after its checkpoint are left out")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="a backup file (custody export)")],
    db: DbOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="the log key you trust (vkey text, or @file); default: the key the file names"
        ),
    ] = None,
) -> None:
    """Rebuild a ledger from a backup into an empty store, in one transaction that commits only
    once `custody verify`'s checks pass and the root is the latest signed checkpoint's."""
    with _failures():
        header = backup.read_header(file)
        config = replace(Config.from_env(db=db), origin=header.origin)
        trusted = _verifier(vkey) if vkey else backup.file_verifier(header)
        if vkey is None:
            err.print(
                f"custody: warning: trusting the log key the backup names ({header.vkey}); "
                "pin the key you trust with --vkey",
                markup=False,
                highlight=False,
            )
        ledger = _open_ledger(config, create_tables=True)
        restored = _with_progress(
            "restoring",
            3 * header.size,
            lambda step: backup.restore_file(ledger, file, trusted=trusted, progress=step),
        )
        out.print(
            f"restored {restored.entries} entries and {restored.checkpoints} checkpoints into "
            f"{redacted(config.db)}; verified: root {restored.root.hex()}, "
            f"signed at size {restored.entries}"
        )
        out.print(
            "next: `custody readmodels rebuild`; serve it with the log's signing key "
            f"(CUSTODY_KEY) and CUSTODY_ORIGIN={header.origin}",
            markup=False,
        )


@app.command()
def parties(db: DbOption = None) -> None:
    """Every registered party: its id (what --party, `recipient` and `to` take), name, kind,
    parent force and keys."""
    with _failures():
        table = Table(title="Parties")
        for column in ("id", "name", "kind", "parent", "keys"):
            table.add_column(column)
        for p in directory.parties(_open_ledger(Config.from_env(db=db))):
            keys = [k.key_id + (" revoked" if k.revoked_at else "") for k in p.keys.values()]
            table.add_row(p.party_id, p.name, p.kind.value, p.parent or "", " ".join(keys))
        out.print(table)


@app.command()
def agreements(db: DbOption = None) -> None:
    """Every end-use agreement: its id (what an issue's `agreement` takes), supplier, programme
    and authorized holders."""
    with _failures():
        table = Table(title="Agreements")
        for column in ("id", "supplier", "programme", "authorized holders", "retransfer consent"):
            table.add_column(column)
        for a in directory.agreements(_open_ledger(Config.from_env(db=db))):
            consent = "required" if a.retransfer_requires_consent else "not required"
            table.add_row(
                a.agreement_id, a.supplier, a.programme, ", ".join(a.authorized_holders), consent
            )
        out.print(table)


report_app = typer.Typer(no_args_is_help=True, help="Oversight reports.")
app.add_typer(report_app, name="report")


@report_app.command("unaccounted")
def report_unaccounted(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="the date asked about: 2026-06-30 (the end of that day, UTC) or RFC 3339 with a"
            " zone; default: now",
        ),
    ] = None,
    known_at: Annotated[
        str | None, typer.Option("--known-at", help="as the ledger knew it then (as --as-of)")
    ] = None,
    recipient: Annotated[
        str | None, typer.Option(help="a recipient party, or its parent force")
    ] = None,
    programme: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    policy: Annotated[
        Path | None, typer.Option(help="a policy file (TOML); default CUSTODY_POLICY")
    ] = None,
    db: DbOption = None,
    as_csv: Annotated[
        bool,
        typer.Option("--csv", help="print CSV as the API's `Accept: text/csv` (docs/policies.md)"),
    ] = False,
    view: Annotated[
        str, typer.Option(help="with --csv: `items` (a row per reason) or `recipients`")
    ] = "items",
) -> None:
    """Which items were unaccounted for on a date, and why; accountability per recipient."""
    with _failures():
        if view not in ("items", "recipients"):
            raise CustodyError(f"--view must be items or recipients, got {view!r}")
        config = Config.from_env(db=db)
        rules = load_policy(policy or config.policy)
        when = parse_moment(as_of, field="--as-of") if as_of else system_clock()
        known = parse_moment(known_at, field="--known-at") if known_at else None
        chosen = Scope(when, known, recipient, programme, category)
        ledger = _open_ledger(config)
        _follow(ledger, rules)  # a process of its own: no server may have followed the log
        report = unaccounted_report(ledger, chosen, rules)
        if as_csv:
            sys.stdout.write(report_csv(report, view))
            return
        out.print(_unaccounted_table(report))
        out.print(_rates_table(report))


def _unaccounted_table(report: UnaccountedReport) -> Table:
    table = Table(
        title=f"Unaccounted for as of {format_time(report.scope.as_of)}: {len(report.unaccounted)}"
    )
    for column in ("serial", "category", "recipient", "holder", "status", "why", "evidence"):
        table.add_column(column)
    for item in report.unaccounted:
        why = "; ".join(f"{f.rule}: {f.detail}" for f in item.reasons)
        evidence = " ".join(str(i) for f in item.reasons for i in f.evidence)
        table.add_row(
            item.serial, item.category, item.recipient, item.holder, item.status, why, evidence
        )
    return table


def _rates_table(report: UnaccountedReport) -> Table:
    table = Table(title="Per recipient")
    columns = ("recipient", "issued", "accounted", "accountability", "overdue", "delinquency")
    for column in (*columns, "verified independently", "self-reported"):
        table.add_column(column, justify="left" if column == "recipient" else "right")
    for r in report.recipients:
        table.add_row(
            r.recipient,
            str(r.issued),
            str(r.accounted),
            f"{r.accountability_rate:.1%}",
            str(r.overdue),
            f"{r.delinquency_rate:.1%}",
            str(r.verified_independently),
            str(r.self_reported),
        )
    return table


readmodels_app = typer.Typer(
    no_args_is_help=True, help="Read models (docs/readmodels.md): rebuild, follow the log."
)
app.add_typer(readmodels_app, name="readmodels")


@readmodels_app.command("rebuild")
def readmodels_rebuild(db: DbOption = None) -> None:
    """Drop the read models' rows and tracking, and apply the whole log again."""
    with _failures():
        ledger = _open_ledger(Config.from_env(db=db))
        views = readmodels.open_views(ledger)
        applied = _with_progress(
            "rebuilding",
            ledger.log_store.log_size(),
            lambda step: readmodels.rebuild(ledger.log_store, views, progress=step),
        )
        out.print(f"rebuilt the read models: {applied} entries applied")
        indexed = ledger.log_store.rebuild_serials()
        out.print(f"rebuilt the index of identities (docs/identity.md): {indexed} items")
        policy = load_policy(Config.from_env(db=db).policy)
        items = _with_progress(
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
    with _failures():
        config = Config.from_env(db=db)
        ledger = _open_ledger(config)
        views = readmodels.open_views(ledger)
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


def _follow(ledger: Ledger, policy: PolicyConfig) -> None:
    """Bring the read models and the policy's stored accounts up to date, a progress bar each."""
    for step in follower_of(ledger, policy).steps:
        todo = step.behind()
        if todo:
            _with_progress(f"following the log: {step.name}", todo, step.catch_up)


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


def _with_progress(label: str, total: int, work: Callable[[Callable[[int], None]], T]) -> T:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=total)
        return work(lambda n: bar.advance(task, n))


if __name__ == "__main__":
    main()
