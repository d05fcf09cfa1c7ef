"""One wiring place (ledger/application/wiring.py): the `custody` commands, the API and bench/ open
the Ledger with `open_ledger(config)`; what it takes from the configuration, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.application import log_key, open_ledger
from ledger.domain.access import Actor
from ledger.domain.bounds import DEFAULT_BOUNDS
from ledger.domain.errors import CustodyError, InvalidInput, NotFound, Unauthorised
from ledger.domain.tokens import Role
from ledger.integrity.signing import Signer, generate_signer_key, write_private_key_file
from ledger.store.config import Config
from ledger.witness.witness_policy import WitnessPolicy
from tests.conftest import Clock
from tests.witness.test_witnessing import WITNESS_KEYS, policy_text

ORIGIN = "ledger.example/custody"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(db=f"sqlite:///{tmp_path / 'custody.db'}", key=str(tmp_path / "custody.key"))


def no_cosignatures(note: str, proof_from: Callable[[int], list[bytes]]) -> list[str]:
    return []


def test_a_missing_store_is_refused_in_one_line_and_no_file_is_left(
    config: Config, tmp_path: Path
) -> None:
    with pytest.raises(CustodyError, match=r"^no ledger at sqlite:///.*custody\.db: run `custody"):
        open_ledger(config)

    assert not (tmp_path / "custody.db").exists()


def test_a_store_that_was_never_initialised_is_refused(config: Config) -> None:
    open_ledger(config, create_tables=True).close()

    with pytest.raises(CustodyError, match=r"^no ledger at sqlite:///.*custody\.db: run `custody"):
        open_ledger(config)


def test_the_ledger_takes_origin_roles_and_bounds_from_the_configuration_and_the_clock_and_signer(
    config: Config, clock: Clock
) -> None:
    signer = Signer.from_text(generate_signer_key(ORIGIN))
    bounds = replace(DEFAULT_BOUNDS, max_active_keys=2)
    configured = replace(
        config, origin=ORIGIN, signed_roles=frozenset({Role.PARTNER}), bounds=bounds
    )

    ledger = open_ledger(configured, clock=clock, signer=signer, create_tables=True)

    assert (ledger.origin, ledger.bounds) == (ORIGIN, bounds)
    assert ledger.clock is clock and ledger.tlog.signer is signer
    # The signed roles, seen as a write sees them: a partner's unsigned item write is refused
    # before the item is even looked up; an inspector's goes on (to find no such item).
    with pytest.raises(Unauthorised, match=r"^role partner must sign its submissions$"):
        ledger.receive(uuid4(), occurred_at=clock(), actor=Actor("unit-1", Role.PARTNER))
    with pytest.raises(NotFound, match=r"^item .* not found$"):
        ledger.inspect(
            uuid4(),
            result="verified",
            method="physical",
            occurred_at=clock(),
            actor=Actor("inspectorate", Role.INSPECTOR),
        )
    ledger.close()


def test_a_witness_policy_gives_the_witnesses_keys_and_quorum_and_they_are_asked_through_the_client(
    config: Config, tmp_path: Path
) -> None:
    (tmp_path / "policy.txt").write_text(policy_text())
    asked: list[WitnessPolicy] = []

    def witnesses(
        policy: WitnessPolicy,
    ) -> Callable[[str, Callable[[int], list[bytes]]], list[str]]:
        asked.append(policy)
        return no_cosignatures

    ledger = open_ledger(
        replace(config, witness_policy=str(tmp_path / "policy.txt")),
        create_tables=True,
        witnesses=witnesses,
    )

    assert asked == [ledger.tlog.witness_policy]
    assert ledger.tlog.cosigners is no_cosignatures
    assert ledger.tlog.witness_keys == tuple(
        f"w{i} {k.verifier.vkey}" for i, k in enumerate(WITNESS_KEYS)
    )
    ledger.close()


def test_without_a_witness_client_the_quorum_still_holds_but_no_witness_is_asked(
    config: Config, tmp_path: Path
) -> None:
    (tmp_path / "policy.txt").write_text(policy_text())

    ledger = open_ledger(
        replace(config, witness_policy=str(tmp_path / "policy.txt")), create_tables=True
    )

    assert ledger.tlog.witness_policy is not None and ledger.tlog.cosigners is None
    ledger.close()


def test_a_witness_policy_file_that_cannot_be_read_is_refused_naming_it(
    config: Config, tmp_path: Path
) -> None:
    missing = replace(config, witness_policy=str(tmp_path / "nowhere.txt"))

    with pytest.raises(InvalidInput, match=r"^witness policy .*nowhere\.txt: \[Errno 2\] No such"):
        open_ledger(missing, create_tables=True)


def test_the_log_key_is_read_from_the_configured_file_and_a_missing_one_names_the_fix(
    config: Config,
) -> None:
    with pytest.raises(
        CustodyError, match=r"^no signing key at .*custody\.key: pass --key FILE or set CUSTODY_KEY"
    ):
        log_key(config)

    write_private_key_file(config.key, generate_signer_key(ORIGIN))

    assert log_key(config).name == ORIGIN
