"""The root `custody` group: its `--debug` option, and every command in the order `--help` lists
them (commands first, then the groups)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from custody_cli import data, demo, evidence, keys, log, reports, store, witness
from custody_cli.output import DEBUG, failures


class _Commands(TyperGroup):
    """The root group: every command, a command added later too, runs inside `failures`, so no
    failure ends in a traceback unless `--debug` asks for it."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's own type for it is in a private module
        with failures():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands,
    add_completion=False,
    no_args_is_help=True,
    help="Custody: a tamper-evident ledger of weapon custody.",
)


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


app.command()(store.init)
app.command()(store.serve)
app.command()(demo.demo)
app.command()(store.verify)
app.command()(keys.keygen)
app.command()(log.submit)
app.command()(evidence.evidence)
app.command("verify-evidence")(evidence.verify_evidence)
app.command()(log.monitor)
app.command("verify-misbehaviour")(log.verify_misbehaviour)
app.command()(reports.find)
app.command()(data.inventory)
app.command()(witness.witness)
app.command("witness-keygen")(witness.witness_keygen)
app.command("import")(data.import_file)
app.command()(data.export)
app.command()(data.restore)
app.command()(reports.parties)
app.command()(reports.agreements)
app.add_typer(keys.token_app, name="token")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(log.checkpoint_app, name="checkpoint")
app.add_typer(log.receipts_app, name="receipts")
app.add_typer(reports.report_app, name="report")
app.add_typer(store.readmodels_app, name="readmodels")
