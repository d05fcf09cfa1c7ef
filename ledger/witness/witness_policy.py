"""Witness policies (c2sp.org/tlog-policy): the logs, the witnesses, and the quorum of witness
cosignatures that makes a checkpoint valid.

Spec: c2sp.org/tlog-policy (C2SP/C2SP, tlog-policy.md); reference: transparency-dev/formats,
policy/tlog_policy.go. The file, line by line ("Policy file syntax and structure"):

    log <vkey> [<url>]                    "Defining a log": its key name is its origin
    witness <name> <vkey> [<url>]         "Defining a witness": a tlog-cosignature vkey
    group <name> <k|all|any> <member>...  "Defining a witness group": k of the members
    quorum <name>                         "Defining the quorum": exactly one; `none`: no cosigner

- "Structure": items are separated by ASCII spaces and tabs only; empty lines and lines whose first
  item starts with "#" are ignored (a "#" later in a line is not a comment). A group or the quorum
  names only witnesses and groups defined on earlier lines; witnesses and groups share one
  namespace; `none` is predefined and is no group member. A name is a group member at most once.
- "Defining a witness group": 1 <= k <= n members; `any` is k = 1, `all` is k = n.
- "Public key representation": two vkeys are duplicates if they wrap the same public key, even
  under another name; duplicate logs, and duplicate witnesses, are refused.
- "Character set": only tab, newline, 0x20-0x7E and octets from 0x80 up; octets from 0x80 are
  opaque (bytes are decoded as UTF-8 with surrogateescape, so names compare octet by octet).

Our choices: log keys are Ed25519 note keys (type 0x01, ledger.signing) and witness keys Ed25519
cosignature/v1 keys (type 0x04, ledger.cosignatures), the ones this project verifies; ML-DSA-44
(0x06) is refused. Limits ("Implementation limits" asks for at least 32): 256 logs, 256 witnesses,
256 groups, 64 KiB. A policy without a quorum line fails closed; only `quorum none` needs no
cosignature. URLs are kept as opaque text. Every cosignature by a policy witness is verified and
one that fails refuses the checkpoint, as signed-note asks and transparency-dev/formats does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.checkpoints import Checkpoint, parse_checkpoint
from ledger.integrity.notes import open_note, split_note
from ledger.integrity.signing import Verifier
from ledger.witness.cosignatures import CosignerVerifier, cosignature_timestamps

NONE = "none"
MAX_ENTRIES = 256
MAX_POLICY_BYTES = 64 * 1024
_SEPARATORS = re.compile(r"[ \t]+")
_THRESHOLD = re.compile(r"[1-9][0-9]{0,8}")
Keyed = TypeVar("Keyed", "PolicyLog", "PolicyWitness")
Entry = TypeVar("Entry")


@dataclass(frozen=True)
class PolicyLog:
    verifier: Verifier
    url: str | None = None

    @property
    def origin(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class PolicyWitness:
    name: str
    verifier: CosignerVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    name: str
    threshold: int
    members: tuple[str, ...]


PolicyEntry = PolicyLog | PolicyWitness | PolicyGroup


class WitnessCosignature(NamedTuple):
    witness: str
    timestamp: int


@dataclass(frozen=True)
class WitnessPolicy:
    """A checked policy; building one that breaks a rule of the spec raises InvalidInput."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def __post_init__(self) -> None:
        builder = _Builder()
        entries: tuple[PolicyEntry, ...] = (*self.logs, *self.witnesses, *self.groups)
        for entry in entries:
            builder.add(entry)
        builder.set_quorum(self.quorum)


def parse_policy(text: str | bytes) -> WitnessPolicy:
    """The policy in `text`, or InvalidInput naming the first bad line."""
    builder = _Builder()
    for number, line in enumerate(_decode(text).split("\n"), start=1):
        items = [item for item in _SEPARATORS.split(line) if item]
        if not items or items[0].startswith("#"):
            continue
        try:
            builder.read(items)
        except InvalidInput as error:
            raise InvalidInput(f"policy line {number}: {error.message}") from None
    return builder.policy()


def check_quorum(
    policy: WitnessPolicy, cosigned_note: str | bytes, checkpoint: Checkpoint
) -> list[WitnessCosignature]:
    """The valid cosignatures by the policy's witnesses of `checkpoint` in `cosigned_note`, in
    policy order; ProofError if the quorum is not met or a policy witness's cosignature is bad.

    1. The note's text must be `checkpoint` (whose log signature the caller has checked).
    2. Verify every line by a policy witness (ledger.cosignatures). 3. Evaluate the groups in
    definition order, members before groups. 4. Refuse, saying why, unless the quorum is met.
    """
    text = split_note(cosigned_note)[0]
    if text != checkpoint.to_text():
        raise ProofError(
            "the cosigned note is of another checkpoint",
            expected=repr(checkpoint.to_text()),
            got=repr(text),
        )
    stamps = cosignature_timestamps(cosigned_note, [w.verifier for w in policy.witnesses])
    cosigned = [
        WitnessCosignature(w.name, stamps[w.verifier])
        for w in policy.witnesses
        if w.verifier in stamps
    ]
    quorum = _Quorum(policy, {c.witness for c in cosigned})
    if not quorum.met(policy.quorum):
        raise ProofError(f"witness quorum {policy.quorum} is not met: {quorum.why(policy.quorum)}")
    return cosigned


def verify_policy_checkpoint(
    policy: WitnessPolicy, note: str | bytes
) -> tuple[Checkpoint, list[WitnessCosignature]]:
    """The checkpoint in `note` if it is valid under `policy` ("What is a "policy"?"): signed by
    one of its logs, whose key name is the origin, and cosigned by a quorum of its witnesses."""
    if not policy.logs:
        raise InvalidInput("the policy lists no log: check the log signature, then check_quorum")
    opened = open_note(note, [log.verifier for log in policy.logs])
    checkpoint = parse_checkpoint(opened.text)
    signers = sorted(sig.name for sig in opened.signatures)
    if checkpoint.origin not in signers:
        raise ProofError(
            "checkpoint origin is not the name of the log key that signed it",
            expected=" or ".join(repr(name) for name in signers),
            got=repr(checkpoint.origin),
        )
    return checkpoint, check_quorum(policy, note, checkpoint)


def _decode(text: str | bytes) -> str:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise InvalidInput(f"policy is {size} bytes; the limit is {MAX_POLICY_BYTES}")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    for offset, char in enumerate(text):
        if char not in "\t\n" and not (" " <= char <= "~" or ord(char) >= 0x80):
            raise InvalidInput(
                f"policy contains the control character U+{ord(char):04X} at character {offset}:"
                " only tab and newline are allowed"
            )
    return text


@dataclass
class _Builder:
    """Adds entries in file order, enforcing the rules of the spec on each."""

    logs: list[PolicyLog] = field(default_factory=list)
    witnesses: list[PolicyWitness] = field(default_factory=list)
    groups: list[PolicyGroup] = field(default_factory=list)
    quorum: str | None = None
    names: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)

    def read(self, items: list[str]) -> None:
        keyword, args = items[0], items[1:]
        if keyword == "quorum":
            if len(args) != 1:
                raise InvalidInput("a quorum line is 'quorum <name>'")
            self.set_quorum(args[0])
        elif keyword in _LINES:
            self.add(_LINES[keyword](args))
        else:
            raise InvalidInput(
                f"unknown keyword {keyword!r}: expected log, witness, group or quorum"
            )

    def add(self, entry: PolicyEntry) -> None:
        if isinstance(entry, PolicyLog):
            _add_unique_key(self.logs, entry, "logs")
        elif isinstance(entry, PolicyWitness):
            self._check_new(entry.name)
            _add_unique_key(self.witnesses, entry, "witnesses")
            self.names.add(entry.name)
        else:
            self._add_group(entry)

    def set_quorum(self, name: str) -> None:
        if self.quorum is not None:
            raise InvalidInput("a policy has exactly one quorum line; this is another")
        if name != NONE and name not in self.names:
            raise InvalidInput(
                f"quorum {name!r} is not a witness or group defined on an earlier line"
            )
        self.quorum = name

    def policy(self) -> WitnessPolicy:
        if self.quorum is None:
            raise InvalidInput(
                "the policy has no quorum line: write `quorum none` to require no cosignature"
            )
        return WitnessPolicy(
            tuple(self.logs), tuple(self.witnesses), tuple(self.groups), self.quorum
        )

    def _add_group(self, group: PolicyGroup) -> None:
        self._check_new(group.name)
        if not 1 <= group.threshold <= len(group.members):
            raise InvalidInput(
                f"group {group.name!r} threshold {group.threshold} is not from 1 to "
                f"{len(group.members)}, its number of members"
            )
        for member in group.members:
            if member not in self.names:
                raise InvalidInput(
                    f"group {group.name!r} member {member!r} is not a witness or group "
                    "defined on an earlier line"
                )
            if member in self.members:
                raise InvalidInput(f"{member!r} is listed as a group member more than once")
            self.members.add(member)
        self.names.add(group.name)
        _append(self.groups, group, "groups")

    def _check_new(self, name: str) -> None:
        if name == NONE:
            raise InvalidInput("'none' is predefined: no witness or group may take the name")
        if name in self.names:
            raise InvalidInput(f"the name {name!r} is defined twice")


def _log_line(args: list[str]) -> PolicyLog:
    if len(args) not in (1, 2):
        raise InvalidInput("a log line is 'log <vkey> [<url>]'")
    return PolicyLog(Verifier.from_vkey(args[0]), _url(args[1:]))


def _witness_line(args: list[str]) -> PolicyWitness:
    if len(args) not in (2, 3):
        raise InvalidInput("a witness line is 'witness <name> <vkey> [<url>]'")
    return PolicyWitness(args[0], CosignerVerifier.from_vkey(args[1]), _url(args[2:]))


def _group_line(args: list[str]) -> PolicyGroup:
    if len(args) < 3:
        raise InvalidInput("a group line is 'group <name> <k|all|any> <member>...'")
    name, threshold, members = args[0], args[1], tuple(args[2:])
    if threshold in ("any", "all"):
        return PolicyGroup(name, 1 if threshold == "any" else len(members), members)
    if not _THRESHOLD.fullmatch(threshold):
        raise InvalidInput(
            f"group {name!r} threshold {threshold!r} is not a decimal number, 'all' or 'any'"
        )
    return PolicyGroup(name, int(threshold), members)


_LINES: dict[str, Callable[[list[str]], PolicyEntry]] = {
    "log": _log_line,
    "witness": _witness_line,
    "group": _group_line,
}


def _url(args: list[str]) -> str | None:
    return args[0] if args else None


def _add_unique_key(entries: list[Keyed], entry: Keyed, what: str) -> None:
    key = entry.verifier.public_key
    if any(other.verifier.public_key == key for other in entries):
        raise InvalidInput(f"two {what} have the same public key ({entry.verifier.name})")
    _append(entries, entry, what)


def _append(entries: list[Entry], entry: Entry, what: str) -> None:
    if len(entries) >= MAX_ENTRIES:
        raise InvalidInput(f"a policy may list at most {MAX_ENTRIES} {what}")
    entries.append(entry)


class _Quorum:
    """Which witnesses and groups of a policy are satisfied by a set of cosigning witnesses."""

    def __init__(self, policy: WitnessPolicy, cosigned: set[str]) -> None:
        self._witnesses = {w.name for w in policy.witnesses}
        self._groups = {g.name: g for g in policy.groups}
        self._met = set(cosigned) | {NONE}
        for group in policy.groups:  # definition order: members before groups
            if sum(m in self._met for m in group.members) >= group.threshold:
                self._met.add(group.name)

    def met(self, name: str) -> bool:
        return name in self._met

    def why(self, name: str) -> str:
        """Why `name` is not met, down through its unmet groups."""
        if name in self._witnesses:
            return f"a cosignature by {name} is required, none is valid"
        group = self._groups[name]
        met = [m for m in group.members if m in self._met]
        only_witnesses = all(m in self._witnesses for m in group.members)
        noun, done = ("witnesses", "valid cosignature") if only_witnesses else ("members", "met")
        plural = "s" if only_witnesses and len(met) != 1 else ""
        reason = (
            f"{group.threshold} of {len(group.members)} {noun} required, {len(met)} {done}{plural}"
        )
        reason += f": {', '.join(met)}" if met else ""
        for member in group.members:
            if member in self._groups and member not in self._met:
                reason += f"; {member}: {self.why(member)}"
        return reason
