"""Attribution bound to the actor (docs/events.md, "Who did it").

An entry's `actor` is the party whose token recorded it: the only attribution the ledger vouches
for. The fields that name who did something (an inspection's `inspector`, a sighting's `observer`,
a recovery's `by`) must name the actor's own party or one of its units, so a partner cannot record
an inspection "by" the inspectorate. Only an admin (the operator) may name another party, recording
for it (a report by radio, a paper form); the entry says so by itself: its `actor` is the operator
and the named field another party, and the timeline reads "recorded by operator for X".

Free text about third parties (a sighting's `held_by`, a disposal's `witnesses`) is never checked
against the registry and never attributes anything to a registered party.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.domain.access import Actor
from ledger.domain.errors import Unauthorised
from ledger.domain.tokens import Role

NAMING_FIELDS = {"Inspected": "inspector", "Sighted": "observer", "Recovered": "by"}
"""Per event, the field that names who did it."""


def require_own(
    actor: Actor, named: str, *, parent: Callable[[str], str | None], what: str
) -> None:
    """`named` is the actor's party or one of its units; else only an admin may name it."""
    if actor.role is Role.ADMIN or named == actor.party or parent(named) == actor.party:
        return
    raise Unauthorised(
        f"{actor.party} may record {what} only by itself or its units, not by {named}"
    )
