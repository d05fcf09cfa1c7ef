"""Bearer tokens. Only a token's SHA-256 is stored (as an aggregate, so grants are in the log too);
the token itself is shown once, to whoever created it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from eventsourcing.domain import Aggregate

from ledger.domain.events import LedgerAggregate, Report, Reported
from ledger.domain.ids import token_uuid


class Role(StrEnum):
    ADMIN = "admin"
    SUPPLIER = "supplier"
    PARTNER = "partner"
    INSPECTOR = "inspector"
    OVERSIGHT = "oversight"
    INVESTIGATOR = "investigator"


TOKEN_PREFIX = "cst_"  # noqa: S105 - a prefix that makes leaked tokens easy to scan for


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Token(LedgerAggregate):
    TOPIC = "custody:Token"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:Token.Created"

    class Granted(Created):
        TOPIC = "custody:Token.Granted"
        token_hash: str
        party: str
        role: str

        def apply(self, token: Token) -> None:
            token.party, token.role, token.revoked = self.party, Role(self.role), False

    class Revoked(Reported):
        TOPIC = "custody:Token.Revoked"

        def apply(self, token: Token) -> None:
            token.revoked = True

    party: str
    role: Role
    revoked: bool

    def __init__(self) -> None:
        """State is assigned by Granted.apply."""

    @classmethod
    def grant(cls, *, digest: str, party: str, role: Role, actor: str, now: datetime) -> Token:
        return cls._create_reported(
            cls.Granted,
            token_uuid(digest),
            Report.unsigned(actor, now),
            token_hash=digest,
            party=party,
            role=role.value,
        )

    def revoke(self, *, actor: str, now: datetime) -> None:
        self._trigger_reported(self.Revoked, Report.unsigned(actor, now))
