"""Configuration: `CUSTODY_DB`, `CUSTODY_KEY`, `CUSTODY_ORIGIN`, mapped onto eventsourcing's own
settings; the server's `CUSTODY_WITNESS_POLICY`, `CUSTODY_CHECKPOINT_INTERVAL` and
`CUSTODY_PUBLIC_TILES`.

See docs/decisions/0001-persistence-mapping.md for why the mapping looks like this.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from ledger.domain.bounds import DEFAULT_BOUNDS, Bounds
from ledger.domain.errors import InvalidInput
from ledger.domain.tokens import Role

DEFAULT_DB = "sqlite:///custody.db"
DEFAULT_KEY = "custody.key"
DEFAULT_ORIGIN = "localhost/custody"
SQLITE_LOCK_TIMEOUT_SECONDS = "10"
POSTGRES_LOCK_TIMEOUT_SECONDS = "5"
DEFAULT_CHECKPOINT_INTERVAL = 10.0
"""Seconds between the server's checkpoint ticks (docs/verification.md, section 12)."""
MAX_CHECKPOINT_INTERVAL = 86_400.0


@dataclass(frozen=True)
class Config:
    db: str = DEFAULT_DB
    key: str = DEFAULT_KEY
    origin: str = DEFAULT_ORIGIN
    signed_roles: frozenset[Role] = frozenset()
    policy: str | None = None
    witness_policy: str | None = None
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL
    """Seconds between the server's checkpoint ticks; 0 turns the clock off."""
    bounds: Bounds = DEFAULT_BOUNDS
    public_tiles: bool = True
    """Whether /tlog/checkpoint and the hash tiles are served without a token (docs/verification.md,
    section 13); entry bundles always need one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, *, db: str | None = None) -> Config:
        return cls(
            db=db or environ.get("CUSTODY_DB") or DEFAULT_DB,
            key=environ.get("CUSTODY_KEY") or DEFAULT_KEY,
            origin=environ.get("CUSTODY_ORIGIN") or DEFAULT_ORIGIN,
            signed_roles=_roles(environ.get("CUSTODY_SIGNED_ROLES", "")),
            policy=environ.get("CUSTODY_POLICY") or None,
            witness_policy=environ.get("CUSTODY_WITNESS_POLICY") or None,
            checkpoint_interval=_interval(environ.get("CUSTODY_CHECKPOINT_INTERVAL", "")),
            bounds=_bounds(environ),
            public_tiles=_switch("CUSTODY_PUBLIC_TILES", environ.get("CUSTODY_PUBLIC_TILES", "")),
        )


def _switch(variable: str, text: str) -> bool:
    """on (the default when empty) or off."""
    value = text.strip().lower() or "on"
    if value not in ("on", "off"):
        raise InvalidInput(f"{variable} {text!r} must be on or off")
    return value == "on"


def _interval(text: str) -> float:
    """CUSTODY_CHECKPOINT_INTERVAL: seconds, 0 (off) or more; empty for the default."""
    if not text.strip():
        return DEFAULT_CHECKPOINT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_CHECKPOINT_INTERVAL:
        raise InvalidInput(
            f"CUSTODY_CHECKPOINT_INTERVAL {text!r} must be a number of seconds from 0 (off) "
            f"to {MAX_CHECKPOINT_INTERVAL:.0f}"
        )
    return seconds


BOUND_SETTINGS = {
    "CUSTODY_MAX_ACTIVE_KEYS": "max_active_keys",
    "CUSTODY_MAX_SIGHTINGS_PER_DAY": "max_sightings_per_day",
    "CUSTODY_MAX_INSPECTIONS_PER_DAY": "max_inspections_per_day",
}


def _bounds(environ: Mapping[str, str]) -> Bounds:
    """ledger/domain/bounds.py's bounds, each changed by its variable if set (a whole number >=
    1)."""
    found = {}
    for variable, name in BOUND_SETTINGS.items():
        text = environ.get(variable)
        if text:
            if not (text.isascii() and text.isdigit()) or int(text) < 1:
                raise InvalidInput(f"{variable} {text!r} must be a whole number of at least 1")
            found[name] = int(text)
    return replace(DEFAULT_BOUNDS, **found)


def _roles(text: str) -> frozenset[Role]:
    """CUSTODY_SIGNED_ROLES: roles whose submissions must be signed, e.g. "partner,inspector"."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    try:
        return frozenset(Role(n) for n in names)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"CUSTODY_SIGNED_ROLES {text!r} must name roles among: {allowed}"
        ) from None


def redacted(db: str) -> str:
    """The URL to print or log: a password in it replaced by ***."""
    url = urlsplit(db)
    if not url.password:
        return db
    netloc = url.netloc.replace(f":{url.password}@", ":***@", 1)
    return url._replace(netloc=netloc).geturl()


def persistence_env(db: str, *, create_tables: bool) -> dict[str, str]:
    """The eventsourcing environment for a `CUSTODY_DB` URL."""
    url = urlsplit(db)
    common = {"CREATE_TABLE": "y" if create_tables else "n", "IS_SNAPSHOTTING_ENABLED": "n"}
    if url.scheme == "sqlite":
        return common | _sqlite_env(db)
    if url.scheme in ("postgresql", "postgres"):
        return common | _postgres_env(db)
    raise InvalidInput(f"CUSTODY_DB {redacted(db)!r} must start with sqlite:/// or postgresql://")


def _sqlite_env(db: str) -> dict[str, str]:
    path = db.removeprefix("sqlite:///")
    if not path or path == db:
        raise InvalidInput(f"CUSTODY_DB {db!r} must look like sqlite:///path/to/custody.db")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": f"file:custody-{uuid4().hex}?mode=memory&cache=shared"
        if path == ":memory:"
        else path,
        "SQLITE_LOCK_TIMEOUT": SQLITE_LOCK_TIMEOUT_SECONDS,
        "APPLICATION_RECORDER_TOPIC": "ledger.store.log:SQLiteLogRecorder",
    }


def _postgres_env(db: str) -> dict[str, str]:
    url = urlsplit(db)
    dbname = url.path.lstrip("/")
    if not dbname or not url.hostname:
        raise InvalidInput(
            f"CUSTODY_DB {redacted(db)!r} must look like postgresql://user@host:5432/dbname"
        )
    schema = parse_qs(url.query).get("schema", [""])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": url.hostname,
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_LOCK_TIMEOUT": POSTGRES_LOCK_TIMEOUT_SECONDS,
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "APPLICATION_RECORDER_TOPIC": "ledger.store.log:PostgresLogRecorder",
    }
