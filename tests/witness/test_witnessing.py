"""Witnesses over HTTP (c2sp.org/tlog-witness add-checkpoint), and the ledger that asks them.

Each witness is the real app (api/witness_app.py) with its own key and SQLite store, reached
through a TestClient; `Network` routes WitnessClient's `post(url, content=...)` to it by URL and
can take a witness down. Logs are real ledgers signed by the fixed SIGNER.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.main import create_app
from api.witness_app import create_witness_app
from api.witnessing import WitnessClient
from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.integrity.notes import split_note
from ledger.integrity.signing import Signer
from ledger.store.witness_store import SQLiteWitnessState
from ledger.witness.cosignatures import CosignerKey, verify_cosignature
from ledger.witness.witness import CosignedCheckpoint, Witness, format_add_checkpoint
from ledger.witness.witness_policy import (
    WitnessCosignature,
    WitnessPolicy,
    parse_policy,
    verify_policy_checkpoint,
)
from tests.conftest import SIGNER, START, Clock, LedgerFactory
from tests.programme import ADMIN, issue, register

ORIGIN = SIGNER.name
QUORUM_2_OF_3 = "group g 2 w0 w1 w2\nquorum g\n"
OTHER_SIGNER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x0b" * 32))


def cosigner_key(name: str, seed: int) -> CosignerKey:
    return CosignerKey(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


WITNESS_KEYS = [cosigner_key(f"w{i}.example", 0x21 + i) for i in range(3)]
WITNESS_URLS = [f"http://w{i}.example" for i in range(3)]


def policy_text(quorum: str = QUORUM_2_OF_3) -> str:
    """The policy of the test network: the log, w0 to w2 with their URLs, then `quorum`."""
    witnesses = "".join(
        f"witness w{i} {k.verifier.vkey} {url}\n"
        for i, (k, url) in enumerate(zip(WITNESS_KEYS, WITNESS_URLS, strict=True))
    )
    return f"log {SIGNER.verifier.vkey}\n{witnesses}{quorum}"


class Network:
    """Witnesses w0, w1, w2 at http://wN.example, each an app with its own key and store; an
    `httpx.Client` stand-in for WitnessClient. Witness N's clock runs `offsets[N]` seconds ahead."""

    def __init__(
        self, directory: Path, clock: Callable[[], datetime], offsets: tuple[int, ...] = (0, 0, 0)
    ) -> None:
        self.keys, self.urls = WITNESS_KEYS, WITNESS_URLS
        self.states = [SQLiteWitnessState(directory / f"w{i}.db") for i in range(3)]
        self.apps: dict[str, TestClient] = {}
        for key, state, url, offset in zip(self.keys, self.states, self.urls, offsets, strict=True):
            ahead = timedelta(seconds=offset)
            witness = Witness(key, {ORIGIN: SIGNER.verifier}, state, lambda a=ahead: clock() + a)
            self.apps[url] = TestClient(create_witness_app(witness, state))
        self.down: set[str] = set()
        self.sent: list[tuple[str, str]] = []  # (witness url, the request's first line)

    def post(self, url: str, *, content: bytes) -> httpx.Response:
        base = url.removesuffix("/add-checkpoint")
        if base in self.down:
            raise httpx.ConnectError(f"connection refused: {base}")
        self.sent.append((base, content.split(b"\n", 1)[0].decode()))
        return self.apps[base].post("/add-checkpoint", content=content)

    def policy(self, quorum: str = QUORUM_2_OF_3) -> WitnessPolicy:
        return parse_policy(policy_text(quorum))

    def client(self) -> WitnessClient:
        return WitnessClient(self.policy(), http=self)  # type: ignore[arg-type]

    def ledger_options(self) -> dict[str, Any]:
        """What a Ledger needs to be witnessed by this network."""
        keys = [f"w{i} {k.verifier.vkey}" for i, k in enumerate(self.keys)]
        return {"cosigners": self.client(), "witness_keys": keys}


def stamp(when: datetime) -> int:
    return int(when.timestamp())


@pytest.fixture
def network(tmp_path: Path, clock: Clock) -> Network:
    return Network(tmp_path, clock)


@pytest.fixture
def w0(network: Network) -> TestClient:
    return network.apps["http://w0.example"]


@pytest.fixture
def log(ledger: Ledger) -> Ledger:
    """An unwitnessed log of the programme (11 entries) and the map root that ends its first
    checkpoint."""
    register(ledger)
    ledger.tlog.checkpoint()
    return ledger


def size_of(note: str) -> int:
    return verify_checkpoint(note, SIGNER.verifier).size


def add(witness: TestClient, old: int, proof: list[bytes], note: str) -> httpx.Response:
    return witness.post("/add-checkpoint", content=format_add_checkpoint(old, proof, note))


def cosigned_then_grown(log: Ledger, witness: TestClient) -> tuple[str, str]:
    """A checkpoint of the log that `witness` cosigns, and a checkpoint of the log two items on."""
    first = log.tlog.checkpoint()
    add(witness, 0, [], first)
    issue(log)
    issue(log, "AK-0002")
    return first, log.tlog.checkpoint()


def flipped(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 1]) + digest[1:]


# add-checkpoint -----------------------------------------------------------------------------------


def test_a_witness_cosigns_a_first_checkpoint_at_the_time_of_its_clock(
    log: Ledger, network: Network, w0: TestClient
) -> None:
    note = log.tlog.checkpoint()
    size = log.log_store.log_size()

    response = add(w0, 0, [], note)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("— w0.example ") and response.text.endswith("\n")
    assert verify_cosignature(note + response.text, network.keys[0].verifier) == stamp(START)
    assert network.states[0].latest(ORIGIN) == CosignedCheckpoint(size, log.tlog.root(size), note)


def test_a_witness_cosigns_a_grown_checkpoint_given_a_consistency_proof_from_the_last_one(
    log: Ledger, network: Network, w0: TestClient, clock: Clock
) -> None:
    first = log.tlog.checkpoint()
    old = size_of(first)
    add(w0, 0, [], first)
    clock.advance(minutes=5)
    issue(log)
    note = log.tlog.checkpoint()
    size = log.log_store.log_size()

    response = add(w0, old, log.tlog.consistency_proof(old, size), note)

    assert response.status_code == 200
    cosigned = verify_cosignature(note + response.text, network.keys[0].verifier)
    assert cosigned == stamp(START + timedelta(minutes=5))
    assert network.states[0].latest(ORIGIN) == CosignedCheckpoint(size, log.tlog.root(size), note)


def test_the_same_checkpoint_again_is_cosigned_again(log: Ledger, w0: TestClient) -> None:
    note = log.tlog.checkpoint()
    add(w0, 0, [], note)

    again = add(w0, size_of(note), [], note)

    assert again.status_code == 200


@pytest.mark.parametrize("after", [None, -7, 1], ids=["0", "smaller", "larger"])
def test_an_old_size_other_than_the_last_cosigned_is_answered_409_with_that_size(
    log: Ledger, w0: TestClient, after: int | None
) -> None:
    first, note = cosigned_then_grown(log, w0)
    cosigned = size_of(first)
    old = 0 if after is None else cosigned + after  # the last cosigned size, off by `after`

    response = add(w0, old, log.tlog.consistency_proof(old, size_of(note)) if old else [], note)

    assert response.status_code == 409
    assert response.headers["content-type"].split(";")[0] == "text/x.tlog.size"
    assert response.text == f"{cosigned}\n"


def test_the_409_content_type_is_exactly_text_x_tlog_size(log: Ledger, w0: TestClient) -> None:
    add(w0, 0, [], log.tlog.checkpoint())
    issue(log)

    response = add(w0, 0, [], log.tlog.checkpoint())

    assert response.headers["content-type"] == "text/x.tlog.size"


def test_a_witness_client_that_is_told_409_retries_from_the_size_the_witness_has(
    log: Ledger, network: Network
) -> None:
    first = log.tlog.checkpoint()
    network.client()(first, lambda old: [])
    issue(log)
    note = log.tlog.checkpoint()
    size = size_of(note)
    network.sent.clear()
    fresh = network.client()  # knows no sizes: asks from 0, and hears the first size

    lines = fresh(note, lambda old: log.tlog.consistency_proof(old, size) if old else [])

    assert len(lines) == 3
    for key, line in zip(network.keys, lines, strict=True):
        assert verify_cosignature(note + line, key.verifier) == stamp(START)
    assert fresh.known_sizes == {"w0": size, "w1": size, "w2": size}
    assert network.sent == [
        (url, f"old {old}") for url in network.urls for old in (0, size_of(first))
    ]


def test_a_checkpoint_signed_by_an_unknown_key_of_a_known_origin_is_answered_403(
    log: Ledger, w0: TestClient
) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 11, log.tlog.root(11)), OTHER_SIGNER)

    response = add(w0, 0, [], note)

    assert response.status_code == 403
    assert response.text == (
        "checkpoint signature: note is not signed by any known key: expected a signature by "
        f"{ORIGIN}+{SIGNER.key_id:08x}, got {ORIGIN}+{OTHER_SIGNER.key_id:08x}\n"
    )


def test_a_checkpoint_of_an_unknown_origin_is_answered_404(log: Ledger, w0: TestClient) -> None:
    stranger = Signer("other.example/log", Ed25519PrivateKey.from_private_bytes(b"\x0c" * 32))
    note = sign_checkpoint(Checkpoint("other.example/log", 11, log.tlog.root(11)), stranger)

    response = add(w0, 0, [], note)

    assert response.status_code == 404
    assert response.text == "unknown log: other.example/log\n"


def test_a_wrong_consistency_proof_is_answered_422_and_kept_as_evidence(
    log: Ledger, network: Network, w0: TestClient
) -> None:
    first, note = cosigned_then_grown(log, w0)
    old = size_of(first)
    proof = log.tlog.consistency_proof(old, size_of(note))
    proof[0] = flipped(proof[0])

    response = add(w0, old, proof, note)

    assert response.status_code == 422
    assert response.text.startswith(
        "not consistent with the cosigned checkpoint: the consistency proof leads to another "
        f"old root at position {old}: expected {log.tlog.root(old).hex()}, got "
    )
    assert network.states[0].latest(ORIGIN) == CosignedCheckpoint(old, log.tlog.root(old), first)
    [evidence] = network.states[0].misbehaviour()
    assert (evidence["cosigned_note"], evidence["refused_note"]) == (first, note)


def test_a_proof_with_an_old_size_of_0_is_answered_422(log: Ledger, w0: TestClient) -> None:
    note = log.tlog.checkpoint()

    response = add(w0, 0, [b"\x00" * 32], note)

    assert response.status_code == 422
    assert response.text == "the consistency proof must be empty when the old size is 0\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda note: b"old 0\n", "request body has no empty line before the checkpoint"),
        (
            lambda note: b"old 00\n\n" + note.encode(),
            "the first line must be 'old <size>', the size in decimal without leading zeros",
        ),
        (
            lambda note: b"old 0\nnot-base64!\n\n" + note.encode(),
            "proof line 2 is not standard base64",
        ),
        (
            lambda note: b"old 0\n\nnot a checkpoint\n",
            "note has no blank line between its text and its signatures",
        ),
        (lambda note: b"\xff\n\n" + note.encode(), "request body is not valid UTF-8 at byte 0"),
        (
            lambda note: f"old {size_of(note) + 1}\n\n{note}".encode(),
            "old size {larger} is larger than the tree size {size}",
        ),
    ],
    ids=["no blank line", "leading zero", "proof not base64", "no checkpoint", "utf-8", "old>size"],
)
def test_a_malformed_request_is_answered_400_saying_what_is_wrong(
    log: Ledger, w0: TestClient, body: Callable[[str], bytes], message: str
) -> None:
    note = log.tlog.checkpoint()

    response = w0.post("/add-checkpoint", content=body(note))

    assert response.status_code == 400
    assert response.text == message.format(size=size_of(note), larger=size_of(note) + 1) + "\n"


def test_the_witness_publishes_its_verifier_key(network: Network, w0: TestClient) -> None:
    response = w0.get("/key")

    assert response.text == network.keys[0].verifier.vkey + "\n"


# A forked log -------------------------------------------------------------------------------------


@pytest.fixture
def fork(make_ledger: LedgerFactory, clock: Clock) -> Ledger:
    """A second log with the same key and origin whose history differs from the first's."""
    clock.advance(days=1)
    forked = make_ledger("sqlite:///:memory:")
    register(forked)
    return forked


def test_a_fork_of_the_same_size_is_refused_409_and_kept_with_both_notes(
    log: Ledger, fork: Ledger, network: Network, w0: TestClient, clock: Clock
) -> None:
    cosigned = log.tlog.checkpoint()
    size = size_of(cosigned)
    add(w0, 0, [], cosigned)
    forked = fork.tlog.checkpoint()
    assert size_of(forked) == size
    assert verify_checkpoint(forked, SIGNER.verifier).root_hash != log.tlog.root(size)

    response = add(w0, size, [], forked)

    assert response.status_code == 409
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == f"tree size {size} was cosigned with another root hash\n"
    assert w0.get("/misbehaviour").json() == {
        "evidence": [
            {
                "origin": ORIGIN,
                "reason": f"tree size {size} was cosigned with another root hash",
                "cosigned_note": cosigned,
                "refused_note": forked,
                "old_size": size,
                "proof": [],
                "observed_at": format_time(clock()),
            }
        ]
    }


def log_signed(note: str) -> str:
    """The note with the log's signature only, as the ledger shows it to the witnesses."""
    text, signatures = note.split("\n\n", 1)
    return f"{text}\n\n{signatures.split(chr(10))[0]}\n"


def test_a_grown_fork_shown_to_witnesses_by_its_ledger_is_refused_422_and_kept_by_each(
    make_ledger: LedgerFactory, network: Network, clock: Clock
) -> None:
    honest = make_ledger("sqlite:///:memory:", **network.ledger_options())
    register(honest)
    cosigned = honest.tlog.checkpoint()
    old = size_of(cosigned)
    clock.advance(days=1)
    forked_ledger = make_ledger("sqlite:///:memory:", **network.ledger_options())
    register(forked_ledger)  # a day later: other entries, the same size, then one more
    issue(forked_ledger)
    network.sent.clear()

    forked = forked_ledger.tlog.checkpoint()

    assert [s.name for s in split_note(forked)[1]] == [ORIGIN]  # no witness cosigned it
    assert size_of(forked) > old
    honest_root = verify_checkpoint(cosigned, SIGNER.verifier).root_hash.hex()
    for url, state in zip(network.urls, network.states, strict=True):
        [evidence] = network.apps[url].get("/misbehaviour").json()["evidence"]
        assert evidence["reason"].startswith(
            "not consistent with the cosigned checkpoint: the consistency proof leads to "
            f"another old root at position {old}: expected {honest_root}, got "
        )
        assert (evidence["cosigned_note"], evidence["refused_note"]) == (
            log_signed(cosigned),
            forked,
        )
        assert evidence["old_size"] == old
        assert evidence["proof"] == [
            base64.b64encode(h).decode()
            for h in forked_ledger.tlog.consistency_proof(old, size_of(forked))
        ]
        assert state.latest(ORIGIN) == CosignedCheckpoint(
            old, honest.tlog.root(old), log_signed(cosigned)
        )
    assert [line for _, line in network.sent] == ["old 0", f"old {old}"] * 3


# The witness's store ------------------------------------------------------------------------------


def test_the_witness_store_remembers_the_latest_checkpoint_and_the_evidence_across_a_restart(
    log: Ledger, fork: Ledger, tmp_path: Path, clock: Clock
) -> None:
    key = cosigner_key("w.example", 0x30)
    state = SQLiteWitnessState(tmp_path / "w.db")
    witness = Witness(key, {ORIGIN: SIGNER.verifier}, state, clock)
    note = log.tlog.checkpoint()
    size = size_of(note)
    assert witness.add_checkpoint(format_add_checkpoint(0, [], note)).ok
    witness.add_checkpoint(format_add_checkpoint(size, [], fork.tlog.checkpoint()))

    reopened = SQLiteWitnessState(tmp_path / "w.db")
    again = Witness(key, {ORIGIN: SIGNER.verifier}, reopened, clock)

    assert reopened.latest(ORIGIN) == CosignedCheckpoint(size, log.tlog.root(size), note)
    assert reopened.misbehaviour() == state.misbehaviour()
    assert len(reopened.misbehaviour()) == 1
    refused = again.add_checkpoint(format_add_checkpoint(0, [], note))
    assert (refused.status, refused.text, refused.content_type) == (
        409,
        f"{size}\n",
        "text/x.tlog.size",
    )


# The ledger with witnesses ------------------------------------------------------------------------


def served_checkpoint(api: TestClient, policy: WitnessPolicy) -> tuple[str, int, list]:
    note = api.get("/v1/log/checkpoint").text
    checkpoint, cosignatures = verify_policy_checkpoint(policy, note)
    return note, checkpoint.size, cosignatures


def test_the_ledger_serves_its_checkpoint_with_the_witnesses_cosignatures_even_with_one_down(
    make_ledger: LedgerFactory, db_url: str, network: Network, clock: Clock
) -> None:
    ledger = make_ledger(db_url, **network.ledger_options())
    register(ledger)
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    api = TestClient(create_app(ledger), headers={"Authorization": f"Bearer {token}"})
    policy = network.policy()
    t1 = stamp(clock())

    first = served_checkpoint(api, policy)
    sizes = [ledger.log_store.log_size()]
    clock.advance(minutes=1)
    network.down = {"http://w1.example"}
    issue(ledger)
    second = served_checkpoint(api, policy)
    sizes.append(ledger.log_store.log_size())
    clock.advance(minutes=1)
    network.down = set()
    issue(ledger, "AK-0002")
    third = served_checkpoint(api, policy)
    sizes.append(ledger.log_store.log_size())

    assert first[1:] == (sizes[0], [WitnessCosignature(w, t1) for w in ("w0", "w1", "w2")])
    assert second[1:] == (sizes[1], [WitnessCosignature(w, t1 + 60) for w in ("w0", "w2")])
    assert third[1:] == (sizes[2], [WitnessCosignature(w, t1 + 120) for w in ("w0", "w1", "w2")])
    assert [line for url, line in network.sent if url == "http://w1.example"] == [
        "old 0",
        f"old {sizes[0]}",  # w1 catches up from the last checkpoint it cosigned, skipping one
    ]
    sent = len(network.sent)
    assert api.get("/v1/log/checkpoint").text == third[0]  # kept: the witnesses are not asked again
    assert len(network.sent) == sent
    assert ledger.log_store.latest_checkpoint() == (sizes[2], third[0])


def test_a_checkpoint_no_witness_cosigned_is_served_with_the_log_signature_alone(
    make_ledger: LedgerFactory, network: Network
) -> None:
    ledger = make_ledger("sqlite:///:memory:", **network.ledger_options())
    register(ledger)
    network.down = set(network.urls)

    note = ledger.tlog.checkpoint()

    assert verify_checkpoint(note, SIGNER.verifier).size == ledger.log_store.log_size()
    assert [s.name for s in split_note(note)[1]] == [ORIGIN]


def test_proof_lines_round_trip_through_the_request_format(log: Ledger) -> None:
    issue(log)
    proof = log.tlog.consistency_proof(11, 12)

    body = format_add_checkpoint(11, proof, log.tlog.checkpoint())

    lines = body.decode().split("\n\n", 1)[0].split("\n")
    assert lines == ["old 11", *(base64.b64encode(h).decode() for h in proof)]


def test_a_chunked_body_over_the_limit_is_413_before_it_is_read_whole(w0: TestClient) -> None:
    """Straight at the ASGI app (a TestClient would read the whole body first): 50 chunks of 1 MiB
    offered, no Content-Length; the app answers 413 having asked for at most two."""
    asked, sent = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * (1 << 20), "more_body": asked < 50}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/add-checkpoint",
        "raw_path": b"/add-checkpoint",
        "query_string": b"",
        "headers": [(b"transfer-encoding", b"chunked")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("w0.example", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    asyncio.run(w0.app(scope, receive, send))  # type: ignore[arg-type]

    assert sent[0]["status"] == 413
    assert asked <= 2
