"""The `custody` command (typer, rich). Thin: parse, call the Ledger, print. Errors end in one line
and exit 1.

It sits beside api/ at the top of the layering (it starts the server), so it lives outside ledger/.
A module per topic: `store` (init, serve, verify, read models), `demo`, `keys` (tokens and keys),
`log` (a client of the log: submit, checkpoints, receipts, monitor), `evidence`, `witness`, `data`
(import, inventory, export, restore), `reports` (find, parties, agreements, reports); `options`
(what the commands share) and `output` (consoles, failures, progress); `app` registers them all.
"""

from custody_cli.app import app, main

__all__ = ["app", "main"]
