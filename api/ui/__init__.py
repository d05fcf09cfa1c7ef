"""The oversight dashboard: server-rendered pages under /ui, behind the same tokens as the API
(docs/dashboard.md). `router` has the pages; `static_files()` serves the stylesheet."""

from __future__ import annotations

from pathlib import Path

from api.ui.investigations import router as _investigations
from api.ui.routes import router
from api.ui.session import STATIC_URL, DashboardStatic

router.include_router(_investigations)

__all__ = ["STATIC_URL", "router", "static_files"]


def static_files() -> DashboardStatic:
    return DashboardStatic(directory=Path(__file__).parent / "static")
