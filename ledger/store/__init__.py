"""The only SQL: one dialect for SQLite and PostgreSQL, the log's recorders, the index of
identities, the stored accounts' table, tiles, store URLs and the witness's store.
"""

from __future__ import annotations

from ledger.store.accounts_tables import (
    ACCOUNT_COLUMNS,
    ACCOUNTS_TABLE,
    MONTH_COLUMNS,
    MONTHS_TABLE,
    AccountRows,
    MonthRows,
    Tally,
    Where,
)
from ledger.store.config import (
    DEFAULT_ORIGIN,
    Config,
    redacted,
)
from ledger.store.dialect import (
    SQLITE,
    Database,
)
from ledger.store.log import (
    LogRow,
    LogStore,
    Statements,
)
from ledger.store.readmodel_tables import (
    MARKING,
)
from ledger.store.stores import (
    create_private,
)
from ledger.store.tiles import (
    Tile,
    entry_bundle,
    latest_checkpoint,
    parse_tile_path,
    read_entry_rows,
    read_hash_tile,
)
from ledger.store.witness_store import (
    SQLiteWitnessState,
)

__all__ = [
    "ACCOUNTS_TABLE",
    "ACCOUNT_COLUMNS",
    "DEFAULT_ORIGIN",
    "MARKING",
    "MONTHS_TABLE",
    "MONTH_COLUMNS",
    "SQLITE",
    "AccountRows",
    "Config",
    "Database",
    "LogRow",
    "LogStore",
    "MonthRows",
    "SQLiteWitnessState",
    "Statements",
    "Tally",
    "Tile",
    "Where",
    "create_private",
    "entry_bundle",
    "latest_checkpoint",
    "parse_tile_path",
    "read_entry_rows",
    "read_hash_tile",
    "redacted",
]
