"""The custody domain: aggregates and their events, ids, times, access rules and the error tree,
with no storage, no SQL and no signatures.
"""

from __future__ import annotations

from ledger.domain.access import (
    OPERATOR,
    PERMISSIONS,
    Action,
    Actor,
)
from ledger.domain.errors import (
    Conflict,
    CustodyError,
    IntegrityFailure,
    InvalidInput,
    LimitExceeded,
    NotFound,
    ProofError,
    RuleViolation,
    Unauthenticated,
    Unauthorised,
)
from ledger.domain.fields import (
    item_uuid,
)
from ledger.domain.flags import (
    Flag,
)
from ledger.domain.ids import (
    NAMESPACE,
    check_party_id,
    item_id,
    normalise_serial,
)
from ledger.domain.inventories import (
    Inventory,
)
from ledger.domain.items import (
    Category,
    DisposalMethod,
    InspectionMethod,
    InspectionResult,
    Item,
    LossCircumstances,
    Status,
)
from ledger.domain.paging import (
    DEFAULT_LIMIT,
    MAX_CURSOR,
    MAX_LIMIT,
    Page,
    page_after,
)
from ledger.domain.parties import (
    PartyKind,
)
from ledger.domain.replay import (
    CustodyState,
    Fact,
    facts_of,
)
from ledger.domain.sightings import (
    Sighting,
)
from ledger.domain.times import (
    aware_utc,
    end_of_day,
    format_time,
    parse_moment,
    system_clock,
)
from ledger.domain.tokens import (
    Role,
)
from ledger.domain.traces import (
    ANSWERED,
    Trace,
    TraceStatus,
)

__all__ = [
    "ANSWERED",
    "DEFAULT_LIMIT",
    "MAX_CURSOR",
    "MAX_LIMIT",
    "NAMESPACE",
    "OPERATOR",
    "PERMISSIONS",
    "Action",
    "Actor",
    "Category",
    "Conflict",
    "CustodyError",
    "CustodyState",
    "DisposalMethod",
    "Fact",
    "Flag",
    "InspectionMethod",
    "InspectionResult",
    "IntegrityFailure",
    "InvalidInput",
    "Inventory",
    "Item",
    "LimitExceeded",
    "LossCircumstances",
    "NotFound",
    "Page",
    "PartyKind",
    "ProofError",
    "Role",
    "RuleViolation",
    "Sighting",
    "Status",
    "Trace",
    "TraceStatus",
    "Unauthenticated",
    "Unauthorised",
    "aware_utc",
    "check_party_id",
    "end_of_day",
    "facts_of",
    "format_time",
    "item_id",
    "item_uuid",
    "normalise_serial",
    "page_after",
    "parse_moment",
    "system_clock",
]
