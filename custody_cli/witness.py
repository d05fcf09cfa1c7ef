"""An independent witness: `witness` runs one, `witness-keygen` makes its cosigner key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.witness_app import create_witness_app
from custody_cli.options import HostOption, PortOption, read_vkey
from custody_cli.output import out
from ledger.domain import system_clock
from ledger.integrity import read_private_key_file, write_private_key_file
from ledger.store import SQLiteWitnessState
from ledger.witness import CosignerKey, Witness, generate_cosigner_key


def witness(
    key: Annotated[Path, typer.Option(help="the witness's cosigner key (custody witness-keygen)")],
    log: Annotated[list[str], typer.Option(help="a log's verifier key (vkey) to witness; repeat")],
    db: Annotated[Path, typer.Option("--db", help="the witness's own store")] = Path("witness.db"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8100,
) -> None:
    """Run an independent witness (C2SP tlog-witness): POST /add-checkpoint."""
    import uvicorn

    cosigner = CosignerKey.from_text(read_private_key_file(key, check=CosignerKey.from_text))
    logs = {v.name: v for v in (read_vkey(text) for text in log)}
    state = SQLiteWitnessState(db)
    app_ = create_witness_app(Witness(cosigner, logs, state, system_clock), state)
    out.print(f"witness {cosigner.verifier.vkey} for {', '.join(logs)} on http://{host}:{port}")
    # httptools and uvloop through uvicorn's defaults, as under `custody serve` (decision 0008)
    uvicorn.run(app_, host=host, port=port, log_level="info")


def witness_keygen(
    name: Annotated[str, typer.Option(help="the witness's name, e.g. witness.example.org")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the private key file (0600)")],
) -> None:
    """Make a witness cosigner key; prints the verifier key for witness policies."""
    text = generate_cosigner_key(name)
    write_private_key_file(output, text, check=CosignerKey.from_text)
    vkey = CosignerKey.from_text(text).verifier.vkey
    out.print(f"private key: {output} (mode 0600)\nverifier key: {vkey}")
