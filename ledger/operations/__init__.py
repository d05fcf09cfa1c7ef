"""Work on a whole store: bulk import, export and restore, and the demo programme."""

from __future__ import annotations

from ledger.operations.imports import (
    file_digest,
    import_rows,
    read_rows,
)

__all__ = [
    "file_digest",
    "import_rows",
    "read_rows",
]
