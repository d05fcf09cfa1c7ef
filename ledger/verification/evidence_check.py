"""`custody verify-evidence`: check a bundle offline with only the published keys, and tell the
item's custody timeline (docs/verification.md, section 7). Steps, in order; the first failure raises
ProofError (or IntegrityFailure) naming what was expected and what was found:

1. The bundle's format; the log key is the one the caller trusts, never the bundle's own.
2. The checkpoint's signature by that log key; its size and root.
3. The witness policy, if given: a quorum of its witnesses cosigned the checkpoint.
4. Every entry, the item's and its context's: its leaf hash, and its inclusion proof to the root.
5. The item's chain: versions 1, 2, 3 ... of this item, each `prev` the hash of the one before.
6. The context: the item's agreement (who may hold it) and the parties' registrations and keys,
   and nothing else: an entry the item's record does not rest on (another agreement, a party no
   entry of the item names) is refused. Keys: each registration's proof of possession and
   endorsement, each confirmation (docs/signing.md, section 1). And completeness
   (ledger/verification/completeness.py): the checkpoint's last entry is a map root, and the map's
   head proofs
   show the bundle holds every entry of the item, of its agreement and of each party whose key
   signed one of its entries, up to the checkpoint, the last one included.
7. Every signed entry: the key was registered (in an earlier entry) and not revoked at the
   recording time; the signature verifies over the submitted bytes; the submission names this
   log, party, action and item.
8. The earlier checkpoints: signed by the log key, consistent with the checkpoint (RFC 9162
   2.1.4.2); with a policy, their cosignatures bound when each entry was on record.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.domain.attribution import NAMING_FIELDS
from ledger.domain.errors import InvalidInput, ProofError, Unauthenticated
from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.domain.times import format_time
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.endorsements import check_signature, confirmation_bytes, registration_bytes
from ledger.integrity.entries import ENTRY_FORMAT, decode_entry
from ledger.integrity.signing import Verifier
from ledger.integrity.submissions import Signed, check_claims, key_id, verify_signed
from ledger.verification.completeness import check_complete, entries_by_aggregate
from ledger.verification.evidence import EVIDENCE_FORMAT, INVESTIGATION_TOPICS, PARTY_FIELDS
from ledger.witness.cosignatures import cosignature_timestamps
from ledger.witness.witness_policy import WitnessPolicy, check_quorum

INDEPENDENT_KINDS = ("inspector", "supplier", "oversight", "investigator")
"""As policies/findings.py: the kinds of party independent of a holder."""

CUSTODY_KINDS = {"Issued": "recipient", "Transferred": "to", "Recovered": "by"}
ITEM_ACTIONS = {
    "Issued": "issue",
    "Transferred": "transfer",
    "Received": "receive",
    "Inspected": "inspect",
    "ReportedLost": "report_lost",
    "Recovered": "recover",
    "Sighted": "sight",
    "Disposed": "dispose",
    "Corrected": "correct",
}


@dataclass(frozen=True)
class Proved:
    log_index: int
    entry: bytes
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body["type"]).rsplit(".", 1)[-1]

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.body["payload"])


@dataclass(frozen=True)
class TimelineEntry:
    log_index: int
    kind: str
    occurred_at: str
    recorded_at: str
    actor: str
    holder: str
    detail: str
    signed_by: str | None
    on_record_after: datetime | None = None
    on_record_by: datetime | None = None
    independent: bool | None = None
    """For an inspection: recorded by a party independent of the holder (by the recording
    party's kind in the registry), or the holder's own statement; None for other entries."""
    key_endorsed: bool | None = None
    """For a signed entry: whether the party itself had endorsed the signing key by then (a
    rotation, or its confirmation); False for an operator-registered key not yet confirmed."""


@dataclass(frozen=True)
class EvidenceReport:
    item_id: str
    checkpoint: Checkpoint
    cosignatures: list[tuple[str, datetime]]
    timeline: list[TimelineEntry]
    last_verified_in_control: TimelineEntry | None
    left_control: TimelineEntry | None
    notes: list[str] = field(default_factory=list)


def verify_bundle(
    bundle: Mapping[str, Any], log_key: Verifier, *, policy: WitnessPolicy | None = None
) -> EvidenceReport:
    """Raise ProofError at the first thing that does not verify; else the report."""
    try:
        return _verify(bundle, log_key, policy)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        if isinstance(error, InvalidInput):
            raise
        raise ProofError(f"the bundle is malformed ({type(error).__name__}: {error})") from None


def _verify(
    bundle: Mapping[str, Any], log_key: Verifier, policy: WitnessPolicy | None
) -> EvidenceReport:
    _check_format(bundle, log_key)  # 1.
    checkpoint = _checkpoint(str(bundle["checkpoint"]), log_key)  # 2.
    cosignatures = _quorum(policy, str(bundle["checkpoint"]), checkpoint)  # 3.
    item = [_proved(e, checkpoint) for e in bundle["entries"]]  # 4.
    context = [_proved(e, checkpoint) for e in bundle["context"]]  # 4.
    _check_chain(item, str(bundle["item_id"]))  # 5.
    _require_own_terms(item, context)  # 6.
    registry = _Registry(context, log_key.name)  # 6.
    registry.require_context(item)  # 6.
    covered = check_complete(
        bundle, checkpoint, lambda raw: _proved(raw, checkpoint), _required(item, context)
    )  # 6.
    signers = [_check_signature(e, registry, log_key.name) for e in item]  # 7.
    windows = _windows(bundle, checkpoint, log_key, policy, cosignatures, item)  # 8.
    timeline = _timeline(item, signers, windows, registry)
    last = max(e.body["aggregate_version"] for e in item)
    notes = [
        f"complete up to the checkpoint of size {checkpoint.size}: versions 1 to {last} are "
        f"every entry of the item among the first {covered} entries of the log (map of heads)"
    ]
    if not policy:
        notes.append(
            "no witness policy given: nothing but the log key vouches for this bundle; the "
            "times entries were on record are not bounded, and the log's word is all there is"
        )
    return EvidenceReport(
        str(bundle["item_id"]),
        checkpoint,
        cosignatures,
        timeline,
        *_left_control(timeline, registry, item),
        notes,
    )


def _required(item: Sequence[Proved], context: Sequence[Proved]) -> dict[str, list[Proved]]:
    """The aggregates whose every entry the bundle must hold: the item, its agreement, and each
    party whose key signed one of the item's entries (its complete key history)."""
    issued = min(item, key=lambda e: e.body["aggregate_version"])
    by_aggregate = entries_by_aggregate(context)
    required = {str(issued.body["aggregate_id"]): list(item)}
    agreement = str(agreement_uuid(str(issued.payload["agreement"])))
    required[agreement] = by_aggregate.get(agreement, [])
    for entry in item:
        if entry.body.get("signature"):
            party = str(party_uuid(str(entry.body["actor"])))
            required[party] = by_aggregate.get(party, [])
    return required


def load_bundle(data: bytes) -> dict[str, Any]:
    try:
        bundle = json.loads(data)
    except ValueError:
        raise InvalidInput("the bundle is not JSON") from None
    if not isinstance(bundle, dict):
        raise InvalidInput("the bundle is not a JSON object")
    return bundle


def _check_format(bundle: Mapping[str, Any], log_key: Verifier) -> None:
    if bundle.get("format") != EVIDENCE_FORMAT:
        raise ProofError(
            "not an evidence bundle", expected=EVIDENCE_FORMAT, got=repr(bundle.get("format"))
        )
    needed = ("item_id", "checkpoint", "entries", "context", "map_root", "heads")
    missing = [k for k in needed if k not in bundle]
    if missing:
        raise ProofError(
            "the bundle is incomplete",
            expected=", ".join(needed),
            got="no " + ", ".join(missing),
        )
    if bundle.get("log_key") not in (None, log_key.vkey):
        raise ProofError(
            "the bundle names another log key",
            expected=log_key.vkey,
            got=str(bundle.get("log_key")),
        )


def _checkpoint(note: str, log_key: Verifier) -> Checkpoint:
    try:
        return verify_checkpoint(note, log_key)
    except InvalidInput as error:
        raise ProofError(f"the checkpoint is malformed: {error.message}") from None


def _proved(raw: Mapping[str, Any], checkpoint: Checkpoint) -> Proved:
    index = int(raw["log_index"])
    entry = _unb64(raw["entry"], f"entry {index}")
    proof = [_unb64(h, f"the proof of entry {index}") for h in raw["inclusion_proof"]]
    leaf = merkle.leaf_hash(entry)
    try:
        merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root_hash)
    except ProofError as error:
        raise ProofError(
            f"entry {index} is not in the checkpointed log: {error.reason}",
            position=index,
            expected=error.expected,
            got=error.got,
        ) from None
    try:
        body = decode_entry(entry)
    except (InvalidInput, ValueError):
        raise ProofError(f"entry {index} is not a {ENTRY_FORMAT} entry", position=index) from None
    return Proved(index, entry, body)


def _check_chain(entries: Sequence[Proved], item_id: str) -> None:
    if not entries:
        raise ProofError(
            "the bundle has no entries of the item", expected="at least the issue", got="none"
        )
    prev: Proved | None = None
    for version, entry in enumerate(sorted(entries, key=lambda e: e.body["aggregate_version"]), 1):
        found = (entry.body["aggregate_id"], entry.body["aggregate_version"])
        if found != (item_id, version):
            raise ProofError(
                "an entry of the item is missing or foreign",
                position=entry.log_index,
                expected=f"{item_id} version {version}",
                got=f"{found[0]} version {found[1]}",
            )
        wanted = merkle.leaf_hash(prev.entry).hex() if prev else None
        if entry.body["prev"] != wanted:
            raise ProofError(
                "the item's hash chain is broken",
                position=entry.log_index,
                expected=str(wanted),
                got=str(entry.body["prev"]),
            )
        prev = entry


class _Registry:
    """The agreement and parties the item's entries rest on, from proved context entries."""

    def __init__(self, context: Sequence[Proved], origin: str) -> None:
        self.origin = origin
        self.holders: set[str] = set()
        self.parents: dict[str, str | None] = {}
        self.kinds: dict[str, str] = {}
        self.party_of: dict[str, str] = {}  # aggregate id -> party id
        self.agreements: set[str] = set()
        self.keys: dict[tuple[str, str], tuple[int, str]] = {}
        self.revoked: dict[tuple[str, str], str] = {}
        self.endorsed: dict[tuple[str, str], int] = {}
        """(party, key) -> the log index from which the party itself endorsed the key."""
        for entry in sorted(context, key=lambda e: e.log_index):
            self._add(entry)

    def _add(self, entry: Proved) -> None:
        p = entry.payload
        if entry.kind == "Concluded":
            self.holders |= set(p["authorized_holders"])
            self.agreements.add(str(p["agreement_id"]))
        elif entry.kind == "Registered":
            self.parents[p["party_id"]] = p.get("parent")
            self.kinds[p["party_id"]] = str(p.get("kind"))
            self.party_of[str(entry.body["aggregate_id"])] = p["party_id"]
        elif entry.kind == "KeyRegistered":
            party = self._party(entry)
            self._check_registration(entry, party)
            self.keys[(party, p["key_id"])] = (entry.log_index, p["public_key"])
            if p.get("endorsement") == "rotation":
                self.endorsed[(party, p["key_id"])] = entry.log_index
        elif entry.kind == "KeyConfirmed":
            party = self._party(entry)
            public = self.keys.get((party, p["key_id"]), (0, ""))[1]
            data = confirmation_bytes(origin=self.origin, party=party, key=p["key_id"])
            self._check(public, p["confirmation"], data, entry, "confirmation")
            self.endorsed.setdefault((party, p["key_id"]), entry.log_index)
        elif entry.kind == "KeyRevoked":
            self.revoked[(self._party(entry), p["key_id"])] = str(entry.body["occurred_at"])

    def _check_registration(self, entry: Proved, party: str) -> None:
        """A key's proof of possession and, for a rotation, its endorsement by a key of the party
        registered before and not revoked then (ledger/integrity/endorsements.py). Registrations
        from before
        endorsements carry no proof: they count as operator-registered."""
        p = entry.payload
        if p.get("proof") is None:
            return
        data = registration_bytes(origin=self.origin, party=party, public_key=p["public_key"])
        self._check(p["public_key"], p["proof"], data, entry, "proof of possession")
        if p.get("endorsement") == "rotation":
            endorsing = (party, str(p.get("endorsed_by")))
            revoked = self.revoked.get(endorsing)
            if endorsing not in self.keys or (
                revoked is not None and revoked <= str(entry.body["recorded_at"])
            ):
                raise ProofError(
                    f"entry {entry.log_index} registers a key endorsed by a key the bundle does"
                    " not show active before it",
                    position=entry.log_index,
                )
            public = self.keys[endorsing][1]
            self._check(public, p["endorsement_signature"], data, entry, "endorsement")

    def _check(self, public: str, signature: str, data: bytes, entry: Proved, what: str) -> None:
        try:
            check_signature(public, signature, data, what=what)
        except (Unauthenticated, ValueError) as error:
            raise ProofError(
                f"entry {entry.log_index}'s {what} does not verify: {error}",
                position=entry.log_index,
            ) from None

    def signer_parties(self, item: Sequence[Proved]) -> set[str]:
        """The parties whose keys signed the item's entries: whose key histories (registrations,
        confirmations, revocations) the bundle must hold complete. The hook for the map of heads
        (issue 13): each of these parties' entries up to the checkpoint, with their head proof,
        shows that no `KeyRevoked` was left out."""
        return {str(e.body["actor"]) for e in item if e.body.get("signature")}

    def key_endorsed(self, party: str, key: str, at: int) -> bool:
        """Whether the party itself had endorsed the key by log index `at`."""
        since = self.endorsed.get((party, key))
        return since is not None and since <= at

    def _party(self, entry: Proved) -> str:
        """Later entries of a party name it by aggregate id; its registration came first."""
        aggregate = str(entry.body["aggregate_id"])
        return self.party_of.get(aggregate, aggregate)

    def require_context(self, item: Sequence[Proved]) -> None:
        """The registry entries the item's record rests on must be in the bundle: its agreement,
        and the registration of every party its entries must name (free text, such as an armed
        group seen holding it, names none)."""
        issued = min(item, key=lambda e: e.body["aggregate_version"])
        agreement = str(issued.payload["agreement"])
        if agreement not in self.agreements:
            raise ProofError(
                "the bundle lacks the item's end-use agreement",
                expected=f"the Concluded entry of {agreement}",
                got="none",
            )
        for entry in item:
            for name in _registered_parties(entry):
                if name not in self.parents:
                    raise ProofError(
                        f"the bundle lacks the registration of {name}, named by "
                        f"entry {entry.log_index}",
                        position=entry.log_index,
                    )

    def authorized(self, party: str) -> bool:
        return party in self.holders or self.parents.get(party) in self.holders

    def independent(self, entry: Proved) -> bool:
        """Recorded by a party independent of the holder, as policies/rules.py judges it: by the
        recording party's kind and its parent's, never by a free-text field."""
        party = recorder(str(entry.body["actor"]), entry.kind, entry.payload, self.kinds)
        parent = self.parents.get(party)
        return self.kinds.get(party) in INDEPENDENT_KINDS and (
            parent is None or self.kinds.get(parent) in (*INDEPENDENT_KINDS, "operator")
        )


REGISTERED_FIELDS = ("recipient", "supplier", "from_holder", "to", "by", "observer", "inspector")


INVESTIGATION_KINDS = ("custody:Trace.", "custody:Sighting.")


def _require_own_terms(item: Sequence[Proved], context: Sequence[Proved]) -> None:
    """The bundle is judged on the item's own terms: every context entry must be one its record
    rests on, an entry of the agreement its issue names or of a party its entries name (a
    sighting's `held_by` included, in case it names one). Anything else, another agreement's
    `Concluded` that would authorize other holders, a party nobody here names, is refused, not
    ignored. The entries of a trace request about the item and of a sighting matched to it
    (their `Requested` or `Matched` names the item) are part of it too, and only those."""
    issued = min(item, key=lambda e: e.body["aggregate_version"])
    agreement = str(issued.payload["agreement"])
    allowed = {str(agreement_uuid(agreement))}
    investigations = {
        str(entry.body["aggregate_id"])
        for entry in context
        if entry.body["type"] in INVESTIGATION_TOPICS
        and entry.payload.get("item_id") == str(issued.body["aggregate_id"])
    }
    for entry in item:
        named = [str(entry.body["actor"])]
        named += [str(v) for k, v in entry.payload.items() if k in PARTY_FIELDS and v]
        for name in named:
            try:
                allowed.add(str(party_uuid(name)))
            except InvalidInput:
                continue  # free text, such as an armed group: no party's entries
    for entry in context:
        aggregate = str(entry.body["aggregate_id"])
        investigated = aggregate in investigations and str(entry.body["type"]).startswith(
            INVESTIGATION_KINDS
        )
        if aggregate not in allowed and not investigated:
            raise ProofError(
                f"entry {entry.log_index} is not part of this item's evidence",
                position=entry.log_index,
                expected=f"entries of agreement {agreement} and of the parties the item's"
                " entries name",
                got=f"{entry.kind} of {entry.body['aggregate_id']}",
            )


def _registered_parties(entry: Proved) -> list[str]:
    names = [str(entry.body["actor"])]
    names += [str(v) for k, v in entry.payload.items() if k in REGISTERED_FIELDS and v]
    return names


def _check_signature(entry: Proved, registry: _Registry, origin: str) -> str | None:
    signature = entry.body.get("signature")
    if not signature:
        return None
    party, key = str(entry.body["actor"]), str(signature["key_id"])
    registered = registry.keys.get((party, key))
    if registered is None or registered[0] > entry.log_index:
        raise ProofError(
            f"entry {entry.log_index} is signed by a key the bundle does not show "
            f"registered before it",
            position=entry.log_index,
            expected=f"a KeyRegistered entry of {party} for key {key}",
            got="none",
        )
    revoked = registry.revoked.get((party, key))
    if revoked is not None and revoked <= str(entry.body["recorded_at"]):
        raise ProofError(
            f"entry {entry.log_index} is signed by a revoked key",
            position=entry.log_index,
            expected=f"key {key} valid",
            got=f"revoked at {revoked}",
        )
    public = _unb64(registered[1], "a public key")
    signed = Signed(
        key,
        str(signature["nonce"]),
        _unb64(signature["signature"], "a signature"),
        _unb64(signature["submission"], "a submission"),
    )
    if key_id(public) != key:
        raise ProofError("a registered key does not match its id", expected=key, got=key_id(public))
    try:
        verify_signed(signed, public)
        item = None if entry.kind == "Issued" else str(entry.body["aggregate_id"])
        check_claims(signed, origin=origin, party=party, action=ITEM_ACTIONS[entry.kind], item=item)
    except Exception as error:
        raise ProofError(
            f"entry {entry.log_index}'s signature does not verify: {error}",
            position=entry.log_index,
        ) from None
    _check_signed_body(entry, signed)
    if not registry.key_endorsed(party, key, entry.log_index):
        return f"{party} (key {key}, operator-registered: not confirmed by {party})"
    return f"{party} (key {key})"


SIGNED_AS = {"from": "from_holder"}
DETAIL_KEYS = ("calibre", "country_of_manufacture", "year", "value", "lot_size", "description")


def _check_signed_body(entry: Proved, signed: Signed) -> None:
    """What the reporter signed must be what the entry records (docs/signing.md, section 6)."""
    body = json.loads(signed.submission)["body"]
    recorded = {
        **entry.payload,
        **entry.payload.get("details", {}),
        "occurred_at": entry.body["occurred_at"],
    }
    for key, value in body.items():
        name = SIGNED_AS.get(key, key)
        if name == "evidence" and isinstance(value, list):
            value = [str(v).strip().lower() for v in value]  # digests are kept in lower case
        if name in recorded and not _same(value, recorded[name]):
            raise ProofError(
                f"entry {entry.log_index} records {name} otherwise than its reporter signed",
                position=entry.log_index,
                expected=repr(value),
                got=repr(recorded[name]),
            )


def _same(signed: Any, recorded: Any) -> bool:
    """Equal after the ledger's normalisation: times as instants, text NFKC and stripped."""
    if isinstance(signed, str) and isinstance(recorded, str):
        try:
            return datetime.fromisoformat(signed) == datetime.fromisoformat(recorded)
        except ValueError:
            return unicodedata.normalize("NFKC", signed).strip() == recorded
    if isinstance(signed, list) and isinstance(recorded, list):
        return len(signed) == len(recorded) and all(map(_same, signed, recorded))
    return bool(signed == recorded)


def _windows(
    bundle: Mapping[str, Any],
    checkpoint: Checkpoint,
    log_key: Verifier,
    policy: WitnessPolicy | None,
    main: list[tuple[str, datetime]],
    item: Sequence[Proved],
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """log index -> (published after, on record by), from the policy's witnesses' cosignatures:
    on record no later than the earliest cosignature of a tree that holds it; published after the
    latest cosignature of a tree that does not. Both trust the witness whose time it is."""
    times = [(checkpoint.size, main)]
    for earlier in bundle.get("earlier_checkpoints", []):
        times.append(_earlier(earlier, checkpoint, log_key, policy))
    windows = {}
    for entry in item:
        before = [t for s, c in times if s <= entry.log_index for _, t in c]
        after = [t for s, c in times if s > entry.log_index for _, t in c]
        windows[entry.log_index] = (max(before) if before else None, min(after) if after else None)
    return windows


def _quorum(
    policy: WitnessPolicy | None, note: str, checkpoint: Checkpoint
) -> list[tuple[str, datetime]]:
    if policy is None:
        return []
    return [(c.witness, _time(c.timestamp)) for c in check_quorum(policy, note, checkpoint)]


def _earlier(
    raw: Mapping[str, Any],
    checkpoint: Checkpoint,
    log_key: Verifier,
    policy: WitnessPolicy | None,
) -> tuple[int, list[tuple[str, datetime]]]:
    """An earlier checkpoint: signed by the log, consistent with the bundle's; its cosignatures
    by the policy's witnesses (no quorum needed: each one bounds a time)."""
    note = str(raw["checkpoint"])
    earlier = _checkpoint(note, log_key)
    proof = [_unb64(h, "a consistency proof") for h in raw["consistency_proof"]]
    try:
        merkle.verify_consistency(
            earlier.size, checkpoint.size, proof, earlier.root_hash, checkpoint.root_hash
        )
    except ProofError as error:
        raise ProofError(
            f"the checkpoint at size {earlier.size} is not an earlier state of this "
            f"log: {error.reason}",
            position=earlier.size,
            expected=error.expected,
            got=error.got,
        ) from None
    if policy is None:
        return earlier.size, []
    names = {w.verifier: w.name for w in policy.witnesses}
    stamps = cosignature_timestamps(note, list(names))
    return earlier.size, [(names[v], _time(t)) for v, t in stamps.items()]


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _timeline(
    item: Sequence[Proved],
    signers: Sequence[str | None],
    windows: Mapping[int, tuple[datetime | None, datetime | None]],
    registry: _Registry,
) -> list[TimelineEntry]:
    holder, timeline = "", []
    for entry, signer in sorted(
        zip(item, signers, strict=True),
        key=lambda pair: (pair[0].body["occurred_at"], pair[0].log_index),
    ):
        p = entry.payload
        holder = str(p.get(CUSTODY_KINDS.get(entry.kind, ""), holder) or holder)
        after, by = windows[entry.log_index]
        timeline.append(
            TimelineEntry(
                entry.log_index,
                entry.kind,
                str(entry.body["occurred_at"]),
                str(entry.body["recorded_at"]),
                str(entry.body["actor"]),
                holder,
                entry_detail(entry.kind, entry.payload, str(entry.body["actor"])),
                signer,
                after,
                by,
                registry.independent(entry) if entry.kind == "Inspected" else None,
                None if signer is None else "operator-registered" not in signer,
            )
        )
    return timeline


DETAILS = {
    "Issued": "issued to {recipient} under {agreement}",
    "Transferred": "{from_holder} -> {to}",
    "Received": "receipt confirmed",
    "Inspected": "{result} ({method}) by {inspector}",
    "ReportedLost": "{circumstances}, discovered {discovered_at}",
    "Recovered": "recovered by {by}",
    "Sighted": "seen by {observer} with {held_by} at {location}",
    "Disposed": "{method}, certificate {certificate}",
    "Corrected": "corrects entry {entry}: {reason}",
}


RECORDED_FOR = {
    "Inspected": "{result} ({method})",
    "Sighted": "seen with {held_by} at {location}",
    "Recovered": "recovered",
}
"""The detail of an entry whose actor named another party as who did it."""


def entry_detail(kind: str, payload: Mapping[str, Any], actor: str) -> str:
    """An entry in a sentence, attributed by its `actor`: an entry that names another party as
    the inspector, observer or recoverer reads "recorded by <actor> for <party>"."""
    named = payload.get(NAMING_FIELDS.get(kind, ""))
    values = defaultdict(lambda: "?", payload)
    if named and named != actor:
        return RECORDED_FOR[kind].format_map(values) + f", recorded by {actor} for {named}"
    return DETAILS.get(kind, "").format_map(values)


def recorder(actor: str, kind: str, payload: Mapping[str, Any], kinds: Mapping[str, str]) -> str:
    """The party an entry speaks for: its actor; for the operator recording for a party, that
    party (ledger/domain/attribution.py)."""
    named = payload.get(NAMING_FIELDS.get(kind, ""))
    return str(named) if named and kinds.get(actor) == "operator" else actor


def _left_control(
    timeline: Sequence[TimelineEntry], registry: _Registry, item: Sequence[Proved]
) -> tuple[TimelineEntry | None, TimelineEntry | None]:
    """The first loss or unauthorized holder, and the last verified sighting before it."""
    payloads = {e.log_index: e.payload for e in item}
    left = next(
        (
            t
            for t in timeline
            if t.kind == "ReportedLost" or _unauthorized(t, payloads[t.log_index], registry)
        ),
        None,
    )
    before = [t for t in timeline if left is None or t.occurred_at <= left.occurred_at]
    verified = [
        t
        for t in before
        if t is not left
        and (
            t.kind == "Received"
            or (
                t.kind == "Inspected"
                and t.independent
                and payloads[t.log_index].get("result") == "verified"
            )
        )
    ]
    return (verified[-1] if verified else None), left


def _unauthorized(entry: TimelineEntry, payload: Mapping[str, Any], registry: _Registry) -> bool:
    party = payload.get(
        {"Transferred": "to", "Recovered": "by", "Sighted": "held_by", "Issued": "recipient"}.get(
            entry.kind, ""
        )
    )
    return bool(party) and not registry.authorized(str(party))


def _unb64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise ProofError(f"{what} is not base64") from None


def describe(report: EvidenceReport) -> list[str]:
    """The report as lines of text, for the CLI."""
    lines = [f"item {report.item_id}: verified against checkpoint size {report.checkpoint.size}"]
    lines += [f"cosigned by {w} at {format_time(t)}" for w, t in report.cosignatures]
    for t in report.timeline:
        window = ""
        if t.on_record_after or t.on_record_by:
            after = format_time(t.on_record_after) if t.on_record_after else "the start"
            by = format_time(t.on_record_by) if t.on_record_by else "?"
            window = f"  [on record after {after}, by {by}]"
        signed = f"  signed by {t.signed_by}" if t.signed_by else ""
        if t.independent is not None:
            signed += "  [independent]" if t.independent else "  [the holder's statement]"
        lines.append(
            f"{t.occurred_at}  #{t.log_index:<6} {t.kind:<13} {t.detail}  "
            f"(holder {t.holder}; recorded {t.recorded_at} by {t.actor}){signed}{window}"
        )
    if report.left_control:
        last = report.last_verified_in_control
        lines.append(
            f"last verified in control: #{last.log_index} {last.occurred_at}"
            if last
            else "last verified in control: never after issue"
        )
        lines.append(
            f"left control: #{report.left_control.log_index} "
            f"{report.left_control.occurred_at} ({report.left_control.detail})"
        )
    lines += [f"note: {n}" for n in report.notes]
    return lines
