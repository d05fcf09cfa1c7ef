"""The application layer: the Ledger's use cases, and the one place it is wired from configuration
(`open_ledger`, wiring.py)."""

from ledger.application.wiring import log_key, open_ledger

__all__ = ["log_key", "open_ledger"]
