"""Fleet-wide reads kept beside the log: custody intervals and item summaries, search by serial,
inventories reconciled, and their check against the log.
"""

from __future__ import annotations

from ledger.readmodels.custody import custody_at, holder_now, holdings, holdings_page
from ledger.readmodels.derived import (
    DerivedChecked,
    Row,
    Rows,
    Table,
    check_read_models,
    compare_items,
    written_since,
)
from ledger.readmodels.follower import Follower, views_step
from ledger.readmodels.follower import Step as FollowStep
from ledger.readmodels.models import (
    TRACKING_TABLE,
    CustodyViews,
    Fleet,
    Holdings,
    Interval,
    ItemEntry,
    follow,
    open_views,
    rebuild,
    timeline,
    views_of,
)
from ledger.readmodels.reconciliation import (
    Count,
    Line,
    Reconciliation,
    take_inventory,
)
from ledger.readmodels.search import PAGE as SERIAL_PAGE
from ledger.readmodels.search import (
    Candidate,
    Filters,
    Found,
    Pattern,
    find_serial,
    resolve_item,
    serial_page,
    visible_holders,
)
from ledger.readmodels.search import search as search_serials

__all__ = [
    "SERIAL_PAGE",
    "TRACKING_TABLE",
    "Candidate",
    "Count",
    "CustodyViews",
    "DerivedChecked",
    "Filters",
    "Fleet",
    "FollowStep",
    "Follower",
    "Found",
    "Holdings",
    "Interval",
    "ItemEntry",
    "Line",
    "Pattern",
    "Reconciliation",
    "Row",
    "Rows",
    "Table",
    "check_read_models",
    "compare_items",
    "custody_at",
    "find_serial",
    "follow",
    "holder_now",
    "holdings",
    "holdings_page",
    "open_views",
    "rebuild",
    "resolve_item",
    "search_serials",
    "serial_page",
    "take_inventory",
    "timeline",
    "views_of",
    "views_step",
    "visible_holders",
    "written_since",
]
