"""The FastAPI app factory. `create_app(ledger)` serves a given Ledger; `configured_app(ledger,
config)` with the server settings of a configuration, as `custody serve` runs it; `app_from_env()`
opens the configured ledger too (ledger/application/wiring.py; `custody init` made the tables).
With `checkpoint_interval` above 0 the app signs checkpoints on a clock while it runs, and once as
it stops (api/clock.py). After every save of its Ledger the app brings the read models and stored
accounts up to date: at once, or with `follow_interval` above 0 by a thread that also ticks on a
clock for other processes' writes (api/follower.py; `configured_app` runs that thread)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import docs, errors, security, ui
from api.clock import CheckpointClock
from api.follower import FollowerClock, follow, listen
from api.limits import BodyLimit
from api.routes import (
    custody,
    inventories,
    items,
    log,
    parties,
    reports,
    serials,
    sightings,
    tiles,
    tokens,
    traces,
)
from api.schemas import ErrorOut
from api.witnessing import WitnessClient
from ledger.application import Ledger, log_key, open_ledger
from ledger.store import Config
from policies.config import PolicyConfig, load_policy
from policies.following import follower_of

FOLLOW_INTERVAL = 1.0
"""`custody serve` catches up with other processes' writes this often (seconds)."""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "the body is not JSON, or cannot be read"),
        (401, "no valid token"),
        (403, "the token's role may not do this"),
        (404, "no such item, party or agreement"),
        (409, "refused by a custody rule, or a concurrent write won (retry)"),
        (413, "body too large"),
        (422, "invalid input"),
    )
}


def create_app(
    ledger: Ledger,
    policy: PolicyConfig | None = None,
    *,
    checkpoint_interval: float = 0,
    public_tiles: bool = True,
    follow_interval: float = 0,
) -> FastAPI:
    follower = follower_of(ledger, policy or PolicyConfig())
    follower_clock = FollowerClock(follower, follow_interval) if follow_interval > 0 else None
    listen(ledger, follower, follower_clock)
    if follower_clock is None:  # else its thread catches up as it starts
        follow(follower)
    app = FastAPI(
        title="Custody",
        version="0.1.0",
        description="A tamper-evident, event-sourced ledger of weapon custody.",
        responses=ERROR_RESPONSES,
        lifespan=_clocks(ledger, checkpoint_interval, follower_clock),
        docs_url=None,  # api/docs.py serves them from packaged assets, not a CDN
        redoc_url=None,
    )
    app.state.ledger = ledger
    app.state.policy = policy or PolicyConfig()
    app.state.public_tiles = public_tiles
    app.state.follower = follower
    errors.install(app)
    app.add_middleware(BodyLimit)
    security.install(app)
    app.include_router(parties.router)
    app.include_router(serials.router)  # before items: /v1/items/search is not an item id
    app.include_router(items.router)
    app.include_router(sightings.router)
    app.include_router(inventories.router)
    app.include_router(traces.router)
    app.include_router(log.router)
    app.include_router(tiles.router)
    app.include_router(tokens.router)
    app.include_router(reports.router)
    app.include_router(custody.router)
    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="ui-static")
    docs.install(app)
    return app


def _clocks(
    ledger: Ledger, interval: float, follower: FollowerClock | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clock = CheckpointClock(ledger, interval) if interval > 0 else None
        for started in (clock, follower):
            if started is not None:
                started.start()
        try:
            yield
        finally:
            for stopped in (follower, clock):
                if stopped is not None:
                    stopped.stop()

    return lifespan


def configured_app(ledger: Ledger, config: Config) -> FastAPI:
    """`create_app` with a configuration's server settings: its policy, checkpoint clock and
    public tiles."""
    return create_app(
        ledger,
        load_policy(config.policy),
        checkpoint_interval=config.checkpoint_interval,
        public_tiles=config.public_tiles,
        follow_interval=FOLLOW_INTERVAL,
    )


def app_from_env() -> FastAPI:
    """The app over the ledger CUSTODY_* configure, signing with CUSTODY_KEY's key."""
    config = Config.from_env()
    ledger = open_ledger(config, signer=log_key(config), witnesses=WitnessClient)
    return configured_app(ledger, config)
