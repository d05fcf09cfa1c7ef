"""The query strings of the dashboard's lists (docs/dashboard.md): the filters a page, its CSV and
its links share, parsed once. An empty field (what a form sends for "any") is no filter."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import Depends, Query

from api.ui import views
from policies.standing import Selection

Text = Annotated[str | None, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Limit = Annotated[int, Query(ge=1, le=views.MAX_PAGE_SIZE)]


@dataclass(frozen=True)
class _Query:
    """A list's query string, parsed: each field a parameter (the dataclass is the
    dependency, `Depends()`)."""

    @property
    def params(self) -> dict[str, str]:
        """The filters set, for links that keep them (the CSV's, the pages')."""
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class ListQuery(_Query):
    """The unaccounted page's query: the date, the filters, the page."""

    as_of: Text = None
    recipient: Text = None
    programme: Text = None
    category: Text = None
    show: Text = None
    reason: Text = None
    severity: Text = None
    status: Text = None

    @property
    def where(self) -> views.Where:
        return views.Where(self.recipient or None, self.programme or None, self.category or None)

    @property
    def selection(self) -> Selection:
        return Selection(
            self.show or "unaccounted",
            self.reason or None,
            self.severity or None,
            self.status or None,
        )


ListQueryDep = Annotated[ListQuery, Depends()]


@dataclass(frozen=True)
class FlagQuery(_Query):
    """The flags page's query: the filters (by default the open flags)."""

    status: Text = "open"
    rule: Text = None
    severity: Text = None
    recipient: Text = None

    @property
    def filters(self) -> views.FlagFilters:
        return views.FlagFilters(
            self.status or "open", self.rule or None, self.severity or None, self.recipient or None
        )


FlagQueryDep = Annotated[FlagQuery, Depends()]
