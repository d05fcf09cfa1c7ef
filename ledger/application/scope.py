"""What each role may read: the one check every read route and dashboard page goes through
(docs/api.md, "What each role reads").

Every role but `partner` reads the whole ledger. A partner is a force or one of its units, and
another force's inventory is sensitive to it, so a partner reads:

- an item (its state, history, custody, evidence bundle, flags, report rows) if the item was
  issued to it or one of its units, or it or one of its units holds it now, or held it at the
  field time it asks about (`/v1/items/{id}/custody?at=`);
- the fleet-wide custody answer (`/v1/custody?holder=`) for itself and its units only;
- the log entries of those items and of their flags, of its own tokens and nonces, and every
  party and agreement entry (the registry, which `GET /v1/parties` lists anyway). Any other
  entry's bytes are withheld, never its position or leaf hash: proofs, checkpoints, keys and leaf
  hashes stay readable to everyone, so a partner verifies its own entries against the whole log.

An item out of a partner's scope is answered as if it did not exist (`NotFound`, the Ledger's own
message): item ids are derived from the serial, so a 403 would tell a partner which serials
another force holds.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import InvalidInput, NotFound, Unauthorised
from ledger.domain.fields import item_uuid
from ledger.domain.tokens import Role
from ledger.integrity.entries import decode_entry
from ledger.store.log import LogRow

PUBLIC_TOPICS = ("custody:Party.", "custody:Agreement.")


def recipient_for(actor: Actor, recipient: str | None) -> str | None:
    """The report's and the flags' `recipient` filter: a partner's is always itself, which
    covers its units; asking for another recipient is refused."""
    if actor.role is not Role.PARTNER:
        return recipient
    if recipient not in (None, actor.party):
        raise Unauthorised(f"{actor.party} may see its own items only, not {recipient}'s")
    return actor.party


class ReadScope:
    """What one caller may read. Build one per request (it caches what it looked up)."""

    def __init__(self, ledger: Ledger, actor: Actor) -> None:
        self._ledger, self.actor = ledger, actor
        self._parent = cache(self._parent_of)
        self._readable = cache(self._item_readable)

    @property
    def everything(self) -> bool:
        return self.actor.role is not Role.PARTNER

    def answers_for(self, party: str) -> bool:
        """The caller itself or one of its units (a partner answers for what its units hold)."""
        return party == self.actor.party or self._parent(party) == self.actor.party

    def require_item(self, item: UUID | str, *, at: datetime | None = None) -> UUID:
        """The item's id if the caller may read it (held at field time `at`, if given, counts
        too); NotFound, as for an unknown item, otherwise."""
        item_id = item_uuid(item)
        if self.everything or self._readable(item_id):
            return item_id
        if at is not None and self._held_at(item_id, at):
            return item_id
        raise NotFound(f"item {item} not found")

    def _held_at(self, item_id: UUID, at: datetime) -> bool:
        try:
            holder = self._ledger.custody_at(item_id, at=at).holder
        except NotFound:  # not issued by then: say no more than for any other item
            return False
        return self.answers_for(holder)

    def may_read_item(self, item: UUID | str) -> bool:
        try:
            self.require_item(item)
        except (NotFound, InvalidInput):
            return False
        return True

    def require_holder(self, holder: str) -> None:
        """A partner asks what itself or one of its units holds, no one else."""
        if not self.everything and not self.answers_for(holder):
            raise Unauthorised(
                f"{self.actor.party} may see what it and its units hold, not what {holder} holds"
            )

    def require_recipient(self, recipient: str | None) -> str | None:
        return recipient_for(self.actor, recipient)

    def may_read_entry(self, row: LogRow) -> bool:
        """Whether the caller may read this log entry's bytes (its leaf hash is public)."""
        if self.everything:
            return True
        body = decode_entry(row.entry)
        topic, payload = str(body["type"]), body["payload"]
        if topic.startswith(PUBLIC_TOPICS):
            return True
        if topic.startswith("custody:Item."):
            return self.may_read_item(row.aggregate_id)
        if topic.startswith("custody:Flag."):
            return self._flag_readable(row.aggregate_id)
        if topic.startswith(("custody:Token.", "custody:Nonce.")):
            return self._party_of(row.aggregate_id, payload) == self.actor.party
        return False

    def _parent_of(self, party: str) -> str | None:
        try:
            return self._ledger.party(party).parent
        except (NotFound, InvalidInput):
            return None

    def _item_readable(self, item_id: UUID) -> bool:
        facts = self._ledger.facts(item_id)
        recipient = str(facts[0].fields["recipient"])
        return self.answers_for(recipient) or self.answers_for(self._ledger.item(item_id).holder)

    def _flag_readable(self, flag_id: UUID) -> bool:
        flag = self._ledger.flag(flag_id)
        return flag is not None and self.may_read_item(flag.item_id)

    def _party_of(self, aggregate_id: UUID, payload: dict[str, object]) -> str | None:
        """The party of a token or nonce: in its creating entry's payload, else its stored state."""
        if "party" in payload:
            return str(payload["party"])
        return next(
            (t.party for t in self._ledger.tokens(actor=self.actor) if t.token_id == aggregate_id),
            None,
        )
