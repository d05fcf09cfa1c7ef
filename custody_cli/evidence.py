"""Evidence bundles: `evidence` writes an item's, `verify-evidence` checks one offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custody_cli.log import client_state
from custody_cli.options import (
    OPERATOR_ACTOR,
    DbOption,
    KeyOption,
    ManufacturerOption,
    ModelOption,
    load_config,
    marking_of,
    open_ledger,
    read_vkey,
)
from custody_cli.output import out
from ledger.application import log_key
from ledger.domain import system_clock
from ledger.readmodels import Fleet, resolve_item
from ledger.verification import describe, dump_bundle, load_bundle, verify_bundle
from ledger.witness import parse_policy


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
    config = load_config(db, key)
    ledger = open_ledger(config, signer=log_key(config))
    marking = marking_of(manufacturer, model)
    if marking is not None:
        fleet = Fleet.of(ledger)
        maker, kind = marking
        found = resolve_item(
            ledger, fleet, item, manufacturer=maker, model=kind, actor=OPERATOR_ACTOR
        )
        item = str(found)
    bundle = ledger.evidence(item)
    state = client_state()
    state.trust_log_key(ledger.tlog.verifier())
    state.accept_checkpoint(
        bundle["checkpoint"],
        ledger.tlog.verifier(),
        ledger.tlog.consistency_proof,
        now=system_clock(),
    )
    output.write_bytes(dump_bundle(bundle))
    out.print(f"wrote {output}: {len(bundle['entries'])} entries of item {item}")


def verify_evidence(
    bundle: Annotated[Path, typer.Argument(help="an evidence bundle (custody evidence)")],
    vkey: Annotated[str, typer.Option(help="the log's verifier key (vkey text, or @file)")],
    policy: Annotated[
        Path | None, typer.Option(help="a C2SP witness policy: require its quorum of cosignatures")
    ] = None,
) -> None:
    """Check a bundle offline with the log's published key; print the custody timeline."""
    witnesses = parse_policy(policy.read_bytes()) if policy else None
    report = verify_bundle(load_bundle(bundle.read_bytes()), read_vkey(vkey), policy=witnesses)
    for line in describe(report):
        out.print(line, markup=False, highlight=False)
