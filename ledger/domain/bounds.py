"""Bounds on what low-privilege roles can make the ledger grow by (docs/security.md, "Bounds").

A partner could register thousands of keys for itself (every bundle carries its key history), an
investigator record thousands of sightings of one item (every write and history read replays it).
So: at most `max_active_keys` active keys per party, and per actor and item at most
`max_sightings_per_day` sightings and `max_inspections_per_day` inspections recorded in any one
UTC day (recording time). Over a bound the write is refused with LimitExceeded (429) and nothing
is recorded. The bound on keys holds for everyone; the daily bounds not for an admin, whose
writes back-fill history (an import, `custody demo`) all on the day they are recorded.

Set them with CUSTODY_MAX_ACTIVE_KEYS, CUSTODY_MAX_SIGHTINGS_PER_DAY and
CUSTODY_MAX_INSPECTIONS_PER_DAY (ledger/store/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    max_active_keys: int = 20
    max_sightings_per_day: int = 20
    max_inspections_per_day: int = 20


DEFAULT_BOUNDS = Bounds()
