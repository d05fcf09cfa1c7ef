"""Checkpoints on a clock (api/clock.py): the server signs a checkpoint when the log has grown, on
every tick, shows one below the witness quorum to the witnesses again, and signs once as it stops.

The witnesses are the test network of test_witnessing.py (real witness apps, each with its own key
and store, reached through TestClients)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.clock import CheckpointClock
from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput
from ledger.integrity.maproots import MAP_ID
from ledger.integrity.notes import split_note
from ledger.store.config import Config
from ledger.witness.witness_policy import verify_policy_checkpoint
from tests.conftest import Clock, LedgerFactory
from tests.programme import issue, register
from tests.witness.test_witnessing import Network

TICK = 0.05


def eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(TICK / 2)


def checkpointed(ledger: Ledger) -> bool:
    latest = ledger.log_store.latest_checkpoint()
    return latest is not None and latest[0] == ledger.log_store.log_size()


def test_a_server_on_a_short_interval_signs_checkpoints_as_the_log_grows_and_none_when_it_does_not(
    api_ledger: Ledger,
) -> None:
    ledger = api_ledger
    registered = ledger.log_store.log_size()

    with TestClient(create_app(ledger, checkpoint_interval=TICK)):
        eventually(lambda: checkpointed(ledger))
        first = ledger.log_store.all_checkpoints()
        time.sleep(10 * TICK)
        idle = ledger.log_store.all_checkpoints()
        issue(ledger)
        issue(ledger, "AK-0002")
        eventually(lambda: checkpointed(ledger))

    # Each checkpoint ends with its map root: one entry more than the log had grown to.
    n = registered
    assert [size for size, _ in first] == [n + 1]
    assert idle == first
    sizes = [size for size, _ in ledger.log_store.all_checkpoints()]
    assert sizes in ([n + 1, n + 3, n + 5], [n + 1, n + 4])  # a tick between the issues, or not


def test_the_server_signs_a_checkpoint_of_the_log_as_it_stops(
    api_ledger: Ledger,
) -> None:
    ledger = api_ledger

    with TestClient(create_app(ledger, checkpoint_interval=3600)):
        issue(ledger)
        assert ledger.log_store.latest_checkpoint() is None

    assert ledger.log_store.latest_checkpoint() is not None
    assert checkpointed(ledger)


def test_with_the_interval_0_the_server_signs_nothing_on_its_own(
    make_ledger: LedgerFactory,
) -> None:
    ledger = make_ledger("sqlite:///:memory:")
    register(ledger)

    with TestClient(create_app(ledger, checkpoint_interval=0)):
        time.sleep(5 * TICK)

    assert ledger.log_store.latest_checkpoint() is None


def test_a_failing_tick_is_logged_and_the_clock_keeps_ticking(
    make_ledger: LedgerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = make_ledger("sqlite:///:memory:")
    register(ledger)
    ledger.tlog.signer = None  # the key is gone: every tick fails to sign
    clock = CheckpointClock(ledger, TICK)

    with caplog.at_level(logging.ERROR, logger="custody.clock"):
        clock.start()
        eventually(lambda: len(caplog.records) >= 3)
        clock.stop()

    assert {r.getMessage() for r in caplog.records} == {
        f"checkpoint tick failed; trying again in {TICK} s"
    }
    assert "opened without its signing key" in str(caplog.records[0].exc_info)


# Below the witness quorum -----------------------------------------------------------------------


@pytest.fixture
def network(tmp_path: Path, clock: Clock) -> Network:
    return Network(tmp_path, clock)


def witnessed(make_ledger: LedgerFactory, url: str, network: Network) -> Ledger:
    """A ledger whose witness policy asks 2 of w0, w1, w2 to cosign."""
    return make_ledger(url, **network.ledger_options(), witness_policy=network.policy())


def test_a_checkpoint_below_the_quorum_is_sent_again_on_the_next_tick_keeping_its_cosignatures(
    make_ledger: LedgerFactory, db_url: str, network: Network
) -> None:
    ledger = witnessed(make_ledger, db_url, network)
    register(ledger)
    clock = CheckpointClock(ledger, 3600)
    network.down = {"http://w1.example", "http://w2.example"}
    clock.tick()
    below = ledger.log_store.latest_checkpoint()
    assert below is not None
    assert [s.name for s in split_note(below[1])[1]] == ["localhost/custody", "w0.example"]
    network.down = {"http://w2.example"}

    clock.tick()

    size, note = ledger.log_store.latest_checkpoint() or (0, "")
    checkpoint, cosigned = verify_policy_checkpoint(network.policy(), note)
    assert (size, checkpoint.size) == (below[0], below[0])  # the same checkpoint, not a new one
    assert [c.witness for c in cosigned] == ["w0", "w1"]
    assert note.startswith(below[1])  # w0's line kept as it was, w1's added
    names = [s.name for s in split_note(note)[1]]
    assert names == ["localhost/custody", "w0.example", "w1.example"]


def test_a_checkpoint_that_meets_the_quorum_is_not_sent_again(
    make_ledger: LedgerFactory, network: Network
) -> None:
    ledger = witnessed(make_ledger, "sqlite:///:memory:", network)
    register(ledger)
    clock = CheckpointClock(ledger, 3600)
    clock.tick()
    sent = len(network.sent)

    clock.tick()

    assert sent == 3 and len(network.sent) == sent


def test_a_witness_asked_again_adds_no_second_line(
    make_ledger: LedgerFactory, network: Network
) -> None:
    ledger = witnessed(make_ledger, "sqlite:///:memory:", network)
    register(ledger)
    network.down = {"http://w1.example", "http://w2.example"}
    first = ledger.tlog.checkpoint()

    again = ledger.tlog.cosign_latest()  # w0 answers again; w1 and w2 are still down

    assert again == first
    assert [s.name for s in split_note(first)[1]] == ["localhost/custody", "w0.example"]


# Configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("", 10.0), ("0", 0.0), ("2.5", 2.5)])
def test_the_checkpoint_interval_comes_from_the_environment(text: str, seconds: float) -> None:
    config = Config.from_env({"CUSTODY_CHECKPOINT_INTERVAL": text})

    assert config.checkpoint_interval == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "nan", "inf", "86401"])
def test_a_checkpoint_interval_that_is_not_a_number_of_seconds_is_refused(text: str) -> None:
    with pytest.raises(
        InvalidInput,
        match=r"CUSTODY_CHECKPOINT_INTERVAL .* must be a number of seconds from 0 \(off\) to 86400",
    ) as refused:
        Config.from_env({"CUSTODY_CHECKPOINT_INTERVAL": text})

    assert refused.value.message == (
        f"CUSTODY_CHECKPOINT_INTERVAL {text!r} must be a number of seconds from 0 (off) to 86400"
    )


def test_two_servers_ticking_on_one_store_keep_one_checkpoint_per_size_and_the_log_verifies(
    api_ledger: Ledger, make_ledger: LedgerFactory, db_url: str
) -> None:
    first = api_ledger
    registered = first.log_store.log_size()
    second = make_ledger(db_url)
    clocks = [CheckpointClock(first, TICK), CheckpointClock(second, TICK)]

    for clock in clocks:
        clock.start()
    for n in range(5):
        issue(first if n % 2 else second, f"AK-{n:04d}")
        time.sleep(TICK)
    for clock in clocks:
        clock.stop()

    sizes = [size for size, _ in first.log_store.all_checkpoints()]
    map_roots = [row.log_index for row in first.log_store.log_entries_of(MAP_ID)]
    assert sizes == sorted(set(sizes)) and sizes[-1] == first.log_store.log_size()
    assert map_roots == [size - 1 for size in sizes]  # each ends with its own map root, no other
    assert first.log_store.log_size() - len(map_roots) == registered + 5  # and the 5 issues
    assert first.tlog.verify(first.tlog.verifier()).checkpoints == len(sizes)
