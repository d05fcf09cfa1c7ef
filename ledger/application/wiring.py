"""The one place a Ledger is built from configuration (ledger/store/config.py, the CUSTODY_*
settings): the `custody` commands, the API's app and bench/ all open it here.

A witness policy (CUSTODY_WITNESS_POLICY) gives the Ledger the witnesses' keys and quorum. Asking
them to cosign takes a network client, which the entry point hands in (`witnesses=`:
api/witnessing.py's `WitnessClient`), so that ledger/ makes no HTTP call of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger.application.ledger import Ledger
from ledger.application.transparency import Cosigners
from ledger.application.writes import Clock
from ledger.domain.errors import CustodyError, InvalidInput
from ledger.domain.times import system_clock
from ledger.integrity.signing import Signer, read_private_key_file
from ledger.store import stores
from ledger.store.config import Config
from ledger.witness.witness_policy import WitnessPolicy, parse_policy

Witnesses = Callable[[WitnessPolicy], Cosigners]
"""A witness policy -> the client that asks its witnesses to cosign each checkpoint."""


def open_ledger(
    config: Config,
    *,
    clock: Clock = system_clock,
    signer: Signer | None = None,
    create_tables: bool = False,
    witnesses: Witnesses | None = None,
) -> Ledger:
    """The Ledger in the configured store. Unless it is creating one (`create_tables`), a missing
    store or one never initialised is refused in one line, and no empty SQLite file is left."""
    if not create_tables:
        stores.require_store(config.db)
    policy = witness_policy(config)
    ledger = Ledger(
        clock=clock,
        db=config.db,
        origin=config.origin,
        create_tables=create_tables,
        signer=signer,
        signed_roles=config.signed_roles,
        bounds=config.bounds,
        cosigners=witnesses(policy) if policy and witnesses else None,
        witness_keys=[f"{w.name} {w.verifier.vkey}" for w in policy.witnesses] if policy else (),
        witness_policy=policy,
    )
    if not create_tables and not ledger.is_initialised():
        raise stores.missing(config.db)
    return ledger


def witness_policy(config: Config) -> WitnessPolicy | None:
    """The policy file CUSTODY_WITNESS_POLICY names, if any."""
    if not config.witness_policy:
        return None
    try:
        return parse_policy(Path(config.witness_policy).read_bytes())
    except OSError as error:
        raise InvalidInput(f"witness policy {config.witness_policy}: {error}") from None


def log_key(config: Config) -> Signer:
    """The log's signing key, from the file CUSTODY_KEY (or --key) names."""
    if not Path(config.key).exists():
        raise CustodyError(
            f"no signing key at {config.key}: pass --key FILE or set CUSTODY_KEY to the key"
            " `custody init` wrote"
        )
    return Signer.from_text(read_private_key_file(config.key))
