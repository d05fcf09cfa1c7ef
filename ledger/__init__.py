"""Custody's ledger: a tamper-evident record of weapon custody, in eight layers.

Each layer is a package whose `__init__` is its face (the names it re-exports, in `__all__`); a
module imports its own layer or the ones below it, never one above (tests/test_layering.py):

    operations     import, export and restore, the demo programme
        |
    readmodels     intervals and summaries, search by serial, reconciliation, derived-state check
        |
    application    the Ledger: use cases, the write path, registry, read scopes, keys, open_ledger
        |
    verification   custody verify, evidence bundles, receipts, head proofs, monitor, trusted
        |
    store          the only SQL: the dialect, the log's recorders, the serial index, the stored
        |          accounts' table, tiles, store URLs, the witness's store
    witness        C2SP cosignatures, the witness, witness policies
        |
    integrity      entries, Merkle trees, keys, notes, checkpoints, receipts, heads, submissions
        |
    domain         aggregates and events, ids, times, access, the error tree

policies/, api/ and the CLI sit above, and reach the ledger through the faces only
(docs/architecture.md; docs/decisions/0004-layout.md).
"""
