"""Tokens and keys: `token create` / `list` / `revoke`, `keygen`, `keys history` / `confirm`."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custody_cli.options import OPERATOR_ACTOR, DbOption, open_ledger
from custody_cli.output import err, out
from ledger.application import log_key
from ledger.domain import check_party_id, format_time
from ledger.integrity import (
    Signer,
    confirm_key,
    generate_signer_key,
    party_key_id,
    prove_key,
    read_private_key_file,
    write_private_key_file,
)
from ledger.store import Config

token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens: create, list, revoke.")


@token_app.command("create")
def token_create(
    party: Annotated[str, typer.Option(help="the party the token acts for")],
    role: Annotated[
        str, typer.Option(help="admin, supplier, partner, inspector, oversight, investigator")
    ],
    db: DbOption = None,
) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    config = Config.from_env(db=db)
    ledger = open_ledger(config, signer=log_key(config))
    token, recorded = ledger.grant_token(party=party, role=role, actor=OPERATOR_ACTOR)
    err.print(f"token {recorded.id} for {party} as {role} (shown once):")
    print(token)


@token_app.command("list")
def token_list(db: DbOption = None) -> None:
    """Every token's id, party, role and state (never the token itself)."""
    ledger = open_ledger(Config.from_env(db=db))
    for t in ledger.tokens(actor=OPERATOR_ACTOR):
        out.print(
            f"{t.token_id}  {t.party}  {t.role.value}  {'revoked' if t.revoked else 'active'}"
        )


@token_app.command("revoke")
def token_revoke(token_id: str, db: DbOption = None) -> None:
    """Revoke a token by its id (from `custody token list`)."""
    config = Config.from_env(db=db)
    ledger = open_ledger(config, signer=log_key(config))
    ledger.revoke_token(token_id, actor=OPERATOR_ACTOR)
    out.print(f"revoked {token_id}")


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
    signer = Signer.from_text(generate_signer_key(check_party_id(party)))
    endorsing = Signer.from_text(read_private_key_file(endorse_with)) if endorse_with else None
    write_private_key_file(output, signer.to_text())
    public = base64.b64encode(signer.verifier.public_key).decode("ascii")
    out.print(f"private key: {output} (mode 0600)\npublic key: {public}")
    out.print(f"key id: {party_key_id(signer.verifier.public_key)}")
    if origin is not None:
        body = prove_key(
            signer.private_key,
            origin=origin,
            party=party,
            endorsing_key=endorsing.private_key if endorsing else None,
        )
        out.print(f"registration: {json.dumps(body, sort_keys=True)}", soft_wrap=True)


keys_app = typer.Typer(no_args_is_help=True, help="Party keys: history, confirmation.")


@keys_app.command("history")
def keys_history(
    party: Annotated[str, typer.Option(help="the party whose keys to list")],
    db: DbOption = None,
) -> None:
    """Every key ever registered for the party: when, by whom, how endorsed, revoked."""
    records = open_ledger(Config.from_env(db=db)).key_history(party)
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
    signer = Signer.from_text(read_private_key_file(key))
    body = confirm_key(signer.private_key, origin=origin, party=signer.name)
    kid = party_key_id(signer.verifier.public_key)
    out.print(f"POST /v1/parties/{signer.name}/keys/{kid}/confirmation")
    out.print(json.dumps(body), soft_wrap=True)
