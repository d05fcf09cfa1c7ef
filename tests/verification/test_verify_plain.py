"""`custody verify`'s fast path (ledger/verification/verify.py, `_Plain`) against the reference it
stands in for.

verify checks each entry against its stored event with `_Plain` (plain JSON, none of the library's
hooks) and leaves to the reference (the library's mapper, entries.entry_body) whatever `_Plain`
cannot show equal. So:

- every kind of event the ledger writes must take the plain path, or verify is slow, silently;
- whatever stored bytes `_Plain` accepts, the reference must accept too, with the same entry: a
  forger who writes a stored event and an entry to suit `_Plain` must gain nothing by it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID, uuid5

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    StoredEvent,
    UUIDAsHex,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.integrity.submissions import Submitted
from ledger.verification.verify import _CACHED, _expected_entry, _Plain
from tests.checks_submissions import UNIT_2_KEY, registered_by_the_operator, unit_2_reports_itself
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, issue, register

ORIGIN = SIGNER.name
EVERY_KIND = {
    "custody:Agreement.Concluded",
    "custody:Flag.Raised",
    "custody:Flag.Resolved",
    "custody:Item.Corrected",
    "custody:Item.Disposed",
    "custody:Item.Inspected",
    "custody:Item.Issued",
    "custody:Item.Received",
    "custody:Item.Recovered",
    "custody:Item.ReportedLost",
    "custody:Item.Sighted",
    "custody:Item.Transferred",
    "custody:Nonce.Used",
    "custody:Party.KeyRegistered",
    "custody:Party.KeyRevoked",
    "custody:Party.Registered",
    "custody:Token.Granted",
    "custody:Token.Revoked",
}


@dataclass(frozen=True)
class Stored:
    """One log entry with its stored event, as verify reads them."""

    aggregate_id: str
    version: int
    topic: str
    state: bytes
    entry: bytes
    prev: bytes | None


def write_every_kind(ledger: Ledger, clock: Clock) -> None:
    register(ledger)
    key = registered_by_the_operator(ledger, "unit-2", UNIT_2_KEY)
    _, granted = ledger.grant_token(party="inspectorate", role="inspector", actor=ADMIN)
    ledger.revoke_token(granted.id, actor=ADMIN)
    item = issue(ledger, "PL-0001", details={"calibre": "7.62x39mm", "value": "1200.50"})
    issued_at = ledger.log_store.log_size() - 1
    other = issue(ledger, "PL-0002")

    def ago(**delta: float) -> datetime:
        clock.advance(minutes=5)
        return clock.now - timedelta(**delta)

    nonce = Submitted("transfer-0001", hashlib.sha256(b"t").hexdigest())
    ledger.transfer(item, to="unit-2", occurred_at=ago(days=9), actor=ADMIN, via=nonce)
    ledger.receive(item, occurred_at=ago(days=8), actor=ADMIN, location="depot", condition="good")
    unit_2_reports_itself(ledger, item, ago(days=7))
    lost = ago(days=6)
    ledger.report_lost(
        item, circumstances="stolen", occurred_at=lost, discovered_at=ago(days=5), actor=ADMIN
    )
    ledger.sight(
        item,
        observer="investigator",
        location="Market square",
        held_by="an armed group",
        occurred_at=ago(days=4),
        evidence=["ab" * 32],
        actor=ADMIN,
    )
    ledger.recover(item, by="unit-1", occurred_at=ago(days=3), actor=ADMIN, condition="damaged")
    ledger.correct(item, entry=issued_at, reason="the serial was misread", actor=ADMIN)
    ledger.dispose(
        other,
        method="destroyed",
        occurred_at=ago(days=2),
        certificate="CERT-1",
        witnesses=["unit-1", "supplier"],
        actor=ADMIN,
    )
    flag = uuid5(UUID(int=1), "flag")
    ledger.raise_flag(
        flag_id=flag,
        rule="loss",
        item_id=item,
        severity="high",
        since=lost,
        evidence=[0],
        detail="reported stolen",
        actor=ADMIN,
    )
    ledger.resolve_flag(flag, reason="recovered", actor=ADMIN)
    ledger.revoke_key(party="unit-2", key=key, reason="rotated", actor=ADMIN)


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    ledger = Ledger(clock=clock, db="sqlite:///:memory:", create_tables=True, signer=SIGNER)
    write_every_kind(ledger, clock)
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def stored(ledger: Ledger) -> list[Stored]:
    size = ledger.log_store.log_size()
    rows = ledger.log_store.verify_rows(0, size)
    events = list(islice(ledger.log_store.stored_events_in_log_order(1000), size))
    return [
        Stored(row[1], row[2], event[2], event[3], row[4], row[5])
        for row, event in zip(rows, events, strict=True)
    ]


def plain(ledger: Ledger, s: Stored, state: bytes | None = None, topic: str | None = None) -> Any:
    """`_Plain`'s entry for other stored bytes of `s`, after it checked `s` itself (so that what
    it caches of `s` is there to be misused)."""
    transcoder = ledger.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    check = _Plain(transcoder, ORIGIN)
    assert check.entry(s.aggregate_id, s.version, s.topic, s.state, s.prev) == s.entry
    return check.entry(s.aggregate_id, s.version, topic or s.topic, state or s.state, s.prev)


def reference(ledger: Ledger, s: Stored, state: bytes, topic: str | None = None) -> bytes | None:
    """The entry the reference derives from these stored bytes, or None if it refuses them."""
    event = StoredEvent(UUID(s.aggregate_id), s.version, topic or s.topic, state)
    try:
        return _expected_entry(ledger.mapper, event, 0, ORIGIN, s.prev)
    except IntegrityFailure:
        return None


def test_every_kind_of_event_the_ledger_writes_takes_the_plain_path(
    ledger: Ledger, stored: list[Stored]
) -> None:
    assert {s.topic for s in stored} >= EVERY_KIND
    assert any(b'"signature":{' in s.entry for s in stored)  # a signed submission among them

    for s in stored:
        assert plain(ledger, s) == s.entry, s.topic
        assert reference(ledger, s, s.state) == s.entry, s.topic


def fields_of(s: Stored) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(s.state)
    return decoded


def compact(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def first(stored: list[Stored], topic: str) -> Stored:
    return next(s for s in stored if s.topic == topic)


Change = Callable[[dict[str, Any]], None]


def setter(name: str, value: Any) -> Change:
    return lambda fields: fields.__setitem__(name, value)


NOT_PLAIN: dict[str, tuple[str, Change]] = {
    "a float": ("custody:Item.Issued", setter("model", 1.5)),
    "NaN": ("custody:Item.Issued", setter("registry_serial", float("nan"))),
    "a float deep down": ("custody:Item.Issued", setter("details", {"value": 1200.5})),
    "an integer beyond 2**53": ("custody:Item.Corrected", setter("entry", 2**60)),
    "a field name json_value refuses": ("custody:Item.Issued", setter("details", {"Bad": 1})),
    "a time written another way": (
        "custody:Item.Transferred",
        setter("occurred_at", {"_type_": "datetime_iso", "_data_": "2026-02-20 09:00:00+00:00"}),
    ),
    "a time with its keys the other way round": (
        "custody:Item.Transferred",
        setter("occurred_at", {"_data_": "2026-02-20T09:00:00+00:00", "_type_": "datetime_iso"}),
    ),
    "a transcoded actor": (
        "custody:Item.Transferred",
        setter("actor", {"_type_": "datetime_iso", "_data_": "2026-02-20T09:00:00+00:00"}),
    ),
    "an unknown transcoding": (
        "custody:Item.ReportedLost",
        setter("discovered_at", {"_type_": "nope", "_data_": "x"}),
    ),
    "a recording time that is not a time": (
        "custody:Item.Transferred",
        setter("timestamp", {"_type_": "uuid_hex", "_data_": "0" * 32}),
    ),
    "a class version": ("custody:Item.Transferred", setter("class_version", 1)),
    "an originator id": ("custody:Item.Transferred", setter("originator_id", "x")),
    "no actor": ("custody:Item.Transferred", lambda fields: fields.pop("actor")),
}


@pytest.mark.parametrize("case", NOT_PLAIN)
def test_stored_bytes_the_reference_refuses_are_never_plain(
    ledger: Ledger, stored: list[Stored], case: str
) -> None:
    topic, change = NOT_PLAIN[case]
    s = first(stored, topic)
    fields = fields_of(s)
    change(fields)
    state = compact(fields)

    assert reference(ledger, s, state) is None
    assert plain(ledger, s, state) is None


def test_a_transcoded_value_inside_the_payload_is_left_to_the_reference(
    ledger: Ledger, stored: list[Stored]
) -> None:
    s = first(stored, "custody:Item.Issued")
    at = {"_type_": "datetime_iso", "_data_": "2026-02-20T09:00:00+00:00"}
    state = compact(fields_of(s) | {"details": {"at": at}})

    assert plain(ledger, s, state) is None
    entry = reference(ledger, s, state)
    assert entry is not None and b'"details":{"at":"2026-02-20T09:00:00.000000Z"}' in entry


@pytest.mark.parametrize(
    "encode",
    [
        lambda f: json.dumps(f, separators=(",", ":"), ensure_ascii=True).encode(),
        lambda f: json.dumps(f).encode(),
        lambda f: compact(f).replace(b'"unit-2"', b'"unit\\u002d2"'),
        lambda f: compact(f)[:-1] + b',"to":"unit-2"}',
    ],
    ids=["ascii-escapes", "white-space", "an-escaped-character", "a-repeated-key"],
)
def test_stored_bytes_that_decode_alike_but_are_written_otherwise_are_not_plain(
    ledger: Ledger, stored: list[Stored], encode: Callable[[dict[str, Any]], bytes]
) -> None:
    s = first(stored, "custody:Item.Transferred")
    state = encode(fields_of(s) | {"authority": "Ré 7"})
    assert state != compact(fields_of(s) | {"authority": "Ré 7"})

    assert reference(ledger, s, state) is None
    assert plain(ledger, s, state) is None


def test_a_changed_value_gives_the_reference_s_entry_which_is_not_the_stored_one(
    ledger: Ledger, stored: list[Stored]
) -> None:
    s = first(stored, "custody:Item.Transferred")
    state = compact(fields_of(s) | {"to": "unit-3"})

    entry = plain(ledger, s, state)

    assert entry == reference(ledger, s, state)
    assert entry is not None and entry != s.entry and b'"to":"unit-3"' in entry


def test_topics_that_are_not_ledger_events_stored_under_their_own_topic_are_not_plain(
    ledger: Ledger, stored: list[Stored]
) -> None:
    s = first(stored, "custody:Item.Issued")

    for topic in ("custody:Item", "ledger.domain.items:Item.Issued", "nope:X",
    "ledger.domain.times:UTC"):
        assert plain(ledger, s, topic=topic) is None
    entry = plain(ledger, s, topic="custody:Item.Created")
    assert entry == reference(ledger, s, s.state, topic="custody:Item.Created") != s.entry


# Any stored bytes at all ----------------------------------------------------------------------

TIMES = ["2026-02-20T09:00:00+00:00", "2026-02-20 09:00:00+00:00", "2026-02-20T09:00:00Z"]
TRANSCODED = st.fixed_dictionaries(
    {
        "_type_": st.sampled_from(["datetime_iso", "uuid_hex", "decimal_str", "nope"]),
        "_data_": st.sampled_from([*TIMES, "2026-02-20T09:00:00", "0" * 32, "1.50", "x", 7]),
    }
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["_type_", "_data_"])
    | TRANSCODED,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "_type_", "_data_", "Bad", "b_2"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
NAMES = st.sampled_from(
    [
        *("to", "actor", "signature", "timestamp", "occurred_at", "details", "originator_topic"),
        *("extra", "Bad-Name", "class_version", "originator_id", "originator_version"),
    ]
)
CHANGES = st.lists(
    st.tuples(st.sampled_from(["set", "drop", "reverse"]), NAMES, VALUES), min_size=1, max_size=3
)
ENCODERS: list[Callable[[dict[str, Any]], bytes]] = [
    compact,
    lambda f: json.dumps(f, separators=(",", ":")).encode(),
    lambda f: json.dumps(f, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode(),
]


def changed(fields: dict[str, Any], changes: list[tuple[str, str, Any]]) -> dict[str, Any]:
    for how, name, value in changes:
        if how == "set":
            fields[name] = value
        elif how == "drop":
            fields.pop(name, None)
        else:
            fields = dict(reversed(fields.items()))
    return fields


def flipped(state: bytes, at: int, mask: int) -> bytes:
    changed = bytearray(state)
    changed[at % len(changed)] ^= mask
    return bytes(changed)


SOUND = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SOUND
@given(data=st.data())
def test_whatever_the_plain_path_accepts_the_reference_accepts_with_the_same_entry(
    ledger: Ledger, stored: list[Stored], data: st.DataObject
) -> None:
    s = data.draw(st.sampled_from(stored))
    if data.draw(st.booleans()):
        encode = data.draw(st.sampled_from(ENCODERS))
        state = encode(changed(fields_of(s), data.draw(CHANGES)))
    else:
        at, mask = data.draw(st.integers(0, 10**4)), data.draw(st.integers(1, 255))
        state = flipped(s.state, at, mask)

    entry = plain(ledger, s, state)

    event("plain" if entry is not None else "left to the reference")
    if entry is not None:
        assert reference(ledger, s, state) == entry


def test_what_the_plain_path_keeps_between_entries_is_bounded(
    ledger: Ledger, stored: list[Stored]
) -> None:
    transcoder = ledger.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    check = _Plain(transcoder, ORIGIN)
    s = first(stored, "custody:Item.Transferred")
    fields, start = fields_of(s), datetime(2020, 1, 1, tzinfo=UTC)

    for n in range(3 * _CACHED):
        at = (start + timedelta(seconds=n)).isoformat()
        state = compact(
            fields | {"occurred_at": {"_type_": "datetime_iso", "_data_": at}, f"f{n}": 1}
        )
        assert check.entry(s.aggregate_id, s.version, s.topic, state, s.prev) is not None

    assert 0 < len(check.times) <= _CACHED and 0 < len(check.field_names) <= _CACHED


class DatetimeAsText(DatetimeAsISO):
    name = "datetime_text"


def test_a_value_the_transcoder_would_write_under_another_name_is_not_plain(
    stored: list[Stored],
) -> None:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DatetimeAsText()):
        transcoder.register(transcoding)  # datetimes are now written as datetime_text
    s = first(stored, "custody:Item.Transferred")

    assert (
        _Plain(transcoder, ORIGIN).entry(s.aggregate_id, s.version, s.topic, s.state, None) is None
    )
