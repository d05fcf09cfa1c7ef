"""Work on a whole store: bulk import, export and restore, and the demo programme."""

from __future__ import annotations

from ledger.operations.backup import (
    export_file,
    file_verifier,
    read_header,
    restore_file,
)
from ledger.operations.demo import build as build_demo
from ledger.operations.imports import (
    file_digest,
    import_rows,
    read_rows,
)

__all__ = [
    "build_demo",
    "export_file",
    "file_digest",
    "file_verifier",
    "import_rows",
    "read_header",
    "read_rows",
    "restore_file",
]
