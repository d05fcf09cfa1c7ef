"""The options many commands share, and what they resolve to: the configuration, the ledger, a
verifier key, a marking."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

import ledger.application as application
from api.witnessing import WitnessClient
from ledger.application import Ledger
from ledger.domain import OPERATOR, Actor, CustodyError, Role
from ledger.integrity import Signer, Verifier
from ledger.store import Config

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
ManufacturerOption = Annotated[
    str | None, typer.Option(help="with --model: ITEM is a serial as marked, not an item id")
]
ModelOption = Annotated[str | None, typer.Option(help="the model of the serial given as ITEM")]
DEFAULT_SERVER = "http://127.0.0.1:8000"
OPERATOR_ACTOR = Actor(OPERATOR, Role.ADMIN)  # whoever holds the store acts as its operator


def load_config(db: str | None, key: Path | None = None) -> Config:
    """CUSTODY_* from the environment, with --db and --key over them."""
    config = Config.from_env(db=db)
    return replace(config, key=str(key)) if key is not None else config


def open_ledger(
    config: Config, *, create_tables: bool = False, signer: Signer | None = None
) -> Ledger:
    """The configured ledger (ledger/application/wiring.py), its witnesses asked to cosign over
    HTTP."""
    return application.open_ledger(
        config, signer=signer, create_tables=create_tables, witnesses=WitnessClient
    )


def read_vkey(vkey: str) -> Verifier:
    text = Path(vkey[1:]).read_text(encoding="utf-8") if vkey.startswith("@") else vkey
    return Verifier.from_vkey(text.strip())


def marking_of(manufacturer: str | None, model: str | None) -> tuple[str, str] | None:
    """(manufacturer, model) when ITEM is a serial; None when it is an item id."""
    if manufacturer is None and model is None:
        return None
    if manufacturer is None or model is None:
        raise CustodyError("give both --manufacturer and --model with a serial, or neither")
    return manufacturer, model
