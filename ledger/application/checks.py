"""The checks of a command that need more than the role table (ledger/domain/access.py) and less
than the aggregate's own rules: a partner writes only for what it or its units hold; who did it is
the actor or one of its units; at most so many inspections and sightings a day; a party's keys and
tokens are managed by the party itself or an admin; no issue of an identity another item has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from ledger.application.registry import Registry
from ledger.domain.access import HOLDER_ACTIONS, Action, Actor
from ledger.domain.attribution import require_own
from ledger.domain.bounds import Bounds
from ledger.domain.errors import LimitExceeded, Unauthorised
from ledger.domain.items import Item
from ledger.domain.tokens import Role
from ledger.store.log import LogStore
from ledger.store.serials import Issue, Marking, look_alike


class Checks:
    def __init__(self, registry: Registry, bounds: Bounds, log_store: LogStore) -> None:
        self.registry, self.bounds, self.log_store = registry, bounds, log_store

    def may_act_on(self, actor: Actor, action: Action, item: Item) -> Item:
        """The item, if this actor may do `action` to it: a partner only to what it holds."""
        holder_only = actor.role is Role.PARTNER and action in HOLDER_ACTIONS
        if holder_only and not self._answers_for(actor.party, item.holder):
            raise Unauthorised(
                f"{actor.party} may {action.value.replace('_', ' ')} only items it holds;"
                f" this one is held by {item.holder}"
            )
        return item

    def within_bound(self, item: Item, kind: str, actor: Actor, now: datetime) -> None:
        """At most the bound of inspections or sightings per actor and item a UTC day; the
        operator's own writes (back-filling an import) are not bound per day."""
        if actor.role is Role.ADMIN:
            return
        limit, what, variable = {
            "Inspected": (self.bounds.max_inspections_per_day, "inspections", "INSPECTIONS"),
            "Sighted": (self.bounds.max_sightings_per_day, "sightings", "SIGHTINGS"),
        }[kind]
        if item.recorded_today(kind, actor.party, now) >= limit:
            raise LimitExceeded(
                f"{actor.party} recorded {limit} {what} of item {item.id} today (UTC), the most"
                f" allowed a day (CUSTODY_MAX_{variable}_PER_DAY); nothing was recorded"
            )

    def own(self, actor: Actor, named: str, what: str) -> None:
        """Who did it is the actor or one of its units; only an admin records for another."""
        require_own(actor, named, parent=lambda p: self.registry.party(p).parent, what=what)

    def no_look_alike(
        self,
        manufacturer: str,
        model: str,
        serial: str,
        new_id: UUID,
        ahead: Mapping[Issue, Marking | None] | None = None,
    ) -> None:
        """Refuse, before deciding, an issue whose identity in the normal form is another item's
        (the store refuses it as well, under its write lock: ledger/store/serials.py). `ahead`:
        the index's answers read for a batch's issues when it began, used if it has this one."""
        issue = (manufacturer, model, serial, str(new_id))
        if ahead is not None and issue in ahead:
            found = ahead[issue]
        else:
            self.log_store.ensure_serials()
            found = self.log_store.serials.look_alike_of(*issue)
        if found is not None:
            raise look_alike(
                {"manufacturer": manufacturer, "model": model, "serial": serial}, found
            )

    def _answers_for(self, party: str, holder: str) -> bool:
        """A party answers for what it holds and for what its units hold."""
        return holder == party or self.registry.party(holder).parent == party


def self_or_admin(actor: Actor, party: str, what: str) -> None:
    """Only the party itself, or an admin, may `what` the party (its keys, its tokens)."""
    if actor.role is not Role.ADMIN and actor.party != party:
        raise Unauthorised(f"{actor.party} may not {what} {party}")
