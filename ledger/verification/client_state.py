"""What a client remembers of each log it talks to, as Go's checksum database client does: the log
key it trusts, the last checkpoint it verified, the receipts of its writes, and the misbehaviour it
found (docs/verification.md, section 11).

    $CUSTODY_STATE, else $XDG_STATE_HOME/custody, else ~/.local/state/custody
      logs/<origin, percent-encoded>/
        vkey                       the log's verifier key, kept the first time, never replaced
        checkpoint                 the last checkpoint note verified and found consistent
        receipts/<log index>.note  the receipts of this client's writes
        misbehaviour/<UTC time>-<kind>.json   evidence (ledger/verification/misbehaviour.py)

Folders are made 0700, files 0600; every file is written to a temporary file in its folder and
renamed into place, so a reader sees the old or the new file, never half of one.

`accept_checkpoint` is the one check of every checkpoint a client sees: signed by the log key,
then, against the kept one, of a size no smaller and consistent by the log's proof. A fork or
rollback is refused with ProofError after its evidence is written to a misbehaviour file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.receipts import EntryReceipt, verify_receipt
from ledger.integrity.signing import Verifier
from ledger.verification.misbehaviour import dump_misbehaviour, misbehaviour_record

DEFAULT_MMD = timedelta(days=1)
"""The maximum merge delay: a receipt's entry must be in the log's checkpoint this long after its
recorded_at (CUSTODY_MMD, in seconds)."""
ConsistencyProof = Callable[[int, int], list[bytes]]
"""(older size, newer size) -> the log's RFC 9162 consistency proof between them."""


def state_dir(environ: Mapping[str, str]) -> Path:
    """The client state folder: CUSTODY_STATE, else XDG_STATE_HOME/custody, else
    ~/.local/state/custody."""
    if environ.get("CUSTODY_STATE"):
        return Path(environ["CUSTODY_STATE"])
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]) / "custody"
    return Path.home() / ".local" / "state" / "custody"


def max_merge_delay(environ: Mapping[str, str]) -> timedelta:
    text = environ.get("CUSTODY_MMD", "")
    if not text:
        return DEFAULT_MMD
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"CUSTODY_MMD must be a whole number of seconds, got {text!r}")
    return timedelta(seconds=int(text))


class ClientState:
    """The state folder of one client, for any number of logs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # The log key -------------------------------------------------------------------------------

    def log_key(self, origin: str) -> Verifier | None:
        text = self._read(self._log(origin) / "vkey")
        return Verifier.from_vkey(text.strip()) if text is not None else None

    def trust_log_key(self, key: Verifier) -> bool:
        """Keep `key` as its origin's log key; True if it was not kept before. Another key for a
        kept origin is refused: the kept one is never silently replaced."""
        kept = self.log_key(key.name)
        if kept is None:
            self._write(self._log(key.name) / "vkey", key.vkey + "\n")
            return True
        if kept != key:
            raise ProofError(
                f"the log {key.name} now shows another key than the one this client keeps "
                f"({self._log(key.name) / 'vkey'}); remove that file only if the log really "
                "changed its key",
                expected=kept.vkey,
                got=key.vkey,
            )
        return False

    # Checkpoints -------------------------------------------------------------------------------

    def checkpoint(self, origin: str) -> str | None:
        return self._read(self._log(origin) / "checkpoint")

    def accept_checkpoint(
        self, note: str, key: Verifier, consistency: ConsistencyProof, *, now: datetime
    ) -> Checkpoint:
        """Check `note` against the kept checkpoint and keep it; ProofError on a fork or a
        rollback, after writing both notes (and the proof) to a misbehaviour file.

        1. The note is a checkpoint signed by the log key. 2. With no checkpoint kept, it is
        kept. 3. A smaller tree than the kept one is a rollback. 4. The same size with another
        root is a fork. 5. A larger tree must be consistent with the kept one by the log's proof.
        """
        new = verify_checkpoint(note, key)  # 1.
        kept_note = self.checkpoint(key.name)
        if kept_note is None:
            self._write(self._log(key.name) / "checkpoint", note)  # 2.
            return new
        kept = verify_checkpoint(kept_note, key)
        if new.size < kept.size:  # 3.
            self._refuse("rollback", key, now, [kept_note, note], "the log rolled back")
        if new.size == kept.size and new.root_hash != kept.root_hash:  # 4.
            self._refuse("fork", key, now, [kept_note, note], "two trees of one size")
        if new.size > kept.size:  # 5.
            if kept.size:
                self._check_consistent(consistency, key, now, kept_note, note)
            self._write(self._log(key.name) / "checkpoint", note)
        return new

    def _check_consistent(
        self, consistency: ConsistencyProof, key: Verifier, now: datetime, old: str, new: str
    ) -> None:
        kept, newer = verify_checkpoint(old, key), verify_checkpoint(new, key)
        proof: list[bytes] = []
        try:
            proof = consistency(kept.size, newer.size)
            merkle.verify_consistency(kept.size, newer.size, proof, kept.root_hash, newer.root_hash)
        except ProofError as error:
            detail = f"no valid consistency proof: {error.message}"
            self._refuse("inconsistent", key, now, [old, new], detail, consistency_proof=proof)

    def _refuse(
        self,
        kind: str,
        key: Verifier,
        now: datetime,
        notes: list[str],
        detail: str,
        **evidence: object,
    ) -> NoReturn:
        kept, new = (verify_checkpoint(n, key) for n in notes)
        path = self.write_misbehaviour(kind, key, now, detail=detail, checkpoints=notes, **evidence)
        raise ProofError(
            f"the log {key.name} is inconsistent with the checkpoint this client kept ({kind}); "
            f"the evidence is in {path}",
            expected=f"a tree extending size {kept.size} root {kept.root_hash.hex()}",
            got=f"size {new.size} root {new.root_hash.hex()}",
        )

    # Receipts ----------------------------------------------------------------------------------

    def keep_receipt(self, note: str, key: Verifier, *, now: datetime) -> EntryReceipt:
        """Verify and keep a receipt. Another receipt kept for its index with another leaf is a
        conflict: both go to a misbehaviour file and ProofError is raised."""
        receipt = verify_receipt(note, key)
        path = self._receipts(key.name) / f"{receipt.log_index}.note"
        kept = self._read(path)
        if kept is not None and verify_receipt(kept, key).leaf_hash != receipt.leaf_hash:
            evidence = self.write_misbehaviour(
                "receipts-conflict",
                key,
                now,
                detail=f"two receipts for index {receipt.log_index}",
                receipts=[kept, note],
            )
            raise ProofError(
                f"the log signed two receipts for index {receipt.log_index}; the evidence "
                f"is in {evidence}"
            )
        self._write(path, note)
        return receipt

    def receipts(self, origin: str) -> list[tuple[Path, str]]:
        """The kept receipts of `origin`, in log index order."""
        folder = self._receipts(origin)
        if not folder.is_dir():
            return []
        found = [
            p
            for p in folder.iterdir()
            if p.suffix == ".note" and p.stem.isascii() and p.stem.isdigit()
        ]
        return [(p, p.read_text(encoding="utf-8")) for p in sorted(found, key=_index_of)]

    # Misbehaviour ------------------------------------------------------------------------------

    def write_misbehaviour(
        self, kind: str, key: Verifier, now: datetime, *, detail: str, **evidence: object
    ) -> Path:
        record = misbehaviour_record(
            kind, origin=key.name, log_key=key, detected_at=now, detail=detail, **evidence
        )
        stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
        path = self._log(key.name) / "misbehaviour" / f"{stamp}-{kind}.json"
        self._write(path, dump_misbehaviour(record).decode("utf-8"))
        return path

    # Files -------------------------------------------------------------------------------------

    def _log(self, origin: str) -> Path:
        name = quote(origin, safe="")
        return self.root / "logs" / ("%2E" + name[1:] if name.startswith(".") else name)

    def _receipts(self, origin: str) -> Path:
        return self._log(origin) / "receipts"

    def _read(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def _write(self, path: Path, text: str) -> None:
        """Write `text` to `path` atomically: a 0600 temporary file in its folder, renamed."""
        _make_dirs(path.parent, self.root)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _make_dirs(folder: Path, root: Path) -> None:
    """`folder` and its parents from `root` on, each made 0700 if missing; `root`'s own parents
    as usual (~/.local/state)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    for path in reversed([p for p in (folder, *folder.parents) if p == root or root in p.parents]):
        if not path.is_dir():
            path.mkdir(mode=0o700)
            path.chmod(0o700)


def _index_of(path: Path) -> int:
    return int(path.stem)
