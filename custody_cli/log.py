"""A client of the log: `submit`, `checkpoint pull`, `receipts check`, `monitor` and
`verify-misbehaviour`, with what the client remembers in its state folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import typer

from api.client import CustodyClient, LogClient
from custody_cli.options import (
    DEFAULT_SERVER,
    LogKeyOption,
    ManufacturerOption,
    ModelOption,
    ServerOption,
    TokenOption,
    marking_of,
    read_vkey,
)
from custody_cli.output import err, out
from ledger.domain import CustodyError, system_clock
from ledger.integrity import Checkpoint, Signer, Verifier, read_private_key_file
from ledger.verification import (
    ClientState,
    ReceiptSource,
    check_misbehaviour,
    check_receipts,
    load_misbehaviour,
    max_merge_delay,
    monitor_step,
    state_dir,
)
from ledger.witness import parse_policy


def client_state() -> ClientState:
    return ClientState(state_dir(os.environ))


def _log_key(state: ClientState, log: LogClient, vkey: str | None) -> Verifier:
    """The log key to check answers with: --vkey, else the kept one, else the server's, trusted on
    first use (said on stderr). A key other than the kept one is refused, never swapped in."""
    key = read_vkey(vkey) if vkey else log.key()
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
    if not key.exists():
        raise CustodyError(f"no party key at {key}: pass --key FILE (a key from `custody keygen`)")
    signer = Signer.from_text(read_private_key_file(key))
    body = _json_data(data)
    marking = marking_of(manufacturer, model)  # a usage error, told before any token or network
    if not token:
        raise CustodyError(
            "no token: pass --token or set CUSTODY_TOKEN (`custody token create` makes one)"
        )
    state, log = client_state(), LogClient(server, token)
    log_key = _log_key(state, log, vkey)
    origin = _pull(state, log, log_key).origin
    client = CustodyClient(server, token, party=signer.name, key=signer.private_key, origin=origin)
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


def _json_data(data: str) -> dict[str, object]:
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


def _one_id(found: list[str], what: str) -> str:
    if len(found) != 1:
        listed = f": {', '.join(found)}" if found else ""
        raise CustodyError(f"{what} names {len(found)} items{listed}")
    return found[0]


checkpoint_app = typer.Typer(no_args_is_help=True, help="The log's signed checkpoints.")


@checkpoint_app.command("pull")
def checkpoint_pull(
    server: ServerOption = DEFAULT_SERVER, token: TokenOption = "", vkey: LogKeyOption = None
) -> None:
    """Fetch the log's latest checkpoint and check it against the one kept in the state folder
    (docs/verification.md, section 11): a fork or rollback exits 1 and leaves a misbehaviour
    file."""
    state, log = client_state(), LogClient(server, token)
    key = _log_key(state, log, vkey)
    kept = state.checkpoint(key.name)
    checkpoint = _pull(state, log, key)
    since = "first seen" if kept is None else "consistent with the kept one"
    out.print(
        f"checkpoint of {checkpoint.origin}: size {checkpoint.size}, root "
        f"{checkpoint.root_hash.hex()} ({since}); kept in {state.root}",
        markup=False,
    )


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
    state, fetch = client_state(), _tile_fetch(url, token)
    policy = parse_policy(witness_policy.read_bytes()) if witness_policy else None
    origin = fetch("checkpoint").decode("utf-8").split("\n", 1)[0]
    key = read_vkey(vkey) if vkey else state.log_key(origin)
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


@receipts_app.command("check")
def receipts_check(
    server: ServerOption = DEFAULT_SERVER, token: TokenOption = "", vkey: LogKeyOption = None
) -> None:
    """Prove each kept receipt's entry is in the log's current checkpoint (its inclusion proof);
    an entry that differs, or one still missing after the maximum merge delay (CUSTODY_MMD
    seconds), exits 1 and leaves a misbehaviour file."""
    state, log = client_state(), LogClient(server, token)
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


def verify_misbehaviour(
    file: Annotated[Path, typer.Argument(help="a misbehaviour file from the state folder")],
    vkey: Annotated[str, typer.Option(help="the log's verifier key (vkey text, or @file)")],
) -> None:
    """Check a misbehaviour file offline with the log's key and say what it proves."""
    finding = check_misbehaviour(load_misbehaviour(file.read_bytes()), read_vkey(vkey))
    weight = "proven" if finding.conclusive else "not proof alone"
    out.print(f"{finding.kind} ({weight}): {finding.statement}", markup=False)
