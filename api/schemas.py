"""The pydantic models of the HTTP contract (DESIGN.md, "Public contract").

Times must be RFC 3339 with a zone (`Time`); text fields have lengths; lists have limits; every
party id in a body, a path or a query has the same pattern and bound. The ledger checks everything
again (it serves the CLI too); these models make the OpenAPI schema say what is accepted and
reject the obvious early with 422 (docs/api.md, "Limits").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict
from uuid import UUID

from fastapi import Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from ledger.application import Recorded
from ledger.domain import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, InvalidInput, aware_utc

PARTY_ID: dict[str, Any] = {
    "min_length": 1,
    "max_length": 100,
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
}
PartyId = Annotated[str, Field(**PARTY_ID)]
PartyIdPath = Annotated[str, Path(description="a party id", **PARTY_ID)]
PartyIdQuery = Annotated[str, Query(description="a party id", **PARTY_ID)]
KeyIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="a key id: 16 hex digits")]
# Indexes and sizes up to 2**53 - 1: the largest integer a JSON number (a double) holds exactly, so
# the bound in the OpenAPI schema is the bound the server checks.
MAX_INDEX = 2**53 - 1
LogIndex = Annotated[int, Field(ge=0, le=MAX_INDEX)]


class RouteOptions(TypedDict, total=False):
    """Keyword arguments several routes' decorators share (`@router.get(path, **NOTE)`), typed so
    that the checker holds them to FastAPI's parameters."""

    status_code: int
    response_model: type[BaseModel]
    response_class: type[Response]
    responses: dict[int | str, dict[str, Any]]


NOTE: RouteOptions = {
    "response_class": PlainTextResponse,
    "responses": {200: {"content": {"text/plain": {}}}},
}
"""A signed note (a checkpoint, a key) answered as text/plain."""
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.I)
TIME_FORMAT = "RFC 3339 with a time zone, e.g. 2026-03-01T09:30:00Z"


def _rfc3339(value: object) -> object:
    """pydantic alone would also take a number (as Unix time), a time without seconds, or one
    with a space for the T; the contract is RFC 3339 with a zone, and a number is no time."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError(f"expected {TIME_FORMAT}")


def _bounded(value: datetime) -> datetime:
    """The ledger's bounds (ledger/domain/times.py: the years 1800 to 9999 in UTC), checked here
    too so
    the refusal is the schema's 422 on every route, before anything converts the time."""
    try:
        aware_utc(value, field="time")
    except InvalidInput as error:
        raise ValueError(error.message.removeprefix("time ")) from None
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_bounded)]
# The two times of a question about the past (docs/api.md): when it happened, as known when.
AtQuery = Annotated[Time, Query(description="field time, RFC 3339 with a zone")]
KnownAtQuery = Annotated[
    Time | None, Query(description="recording time; default: everything recorded so far")
]
# Paging (docs/api.md, "Paging"): every list takes `limit` and `cursor` and answers `next`.
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many a page (1 to {MAX_LIMIT})")
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next` of the page before (opaque); none for the first page",
    ),
]


class Paging(TypedDict):
    """A list route's `limit` and `cursor`, as the listing functions take them (`**paging`)."""

    limit: int
    cursor: str | None


def paging_query(default_limit: int = DEFAULT_LIMIT) -> Callable[..., Paging]:
    """The dependency that reads `limit` (`default_limit` if not given) and `cursor`."""

    def page_parameters(limit: Limit = default_limit, cursor: Cursor = None) -> Paging:
        return {"limit": limit, "cursor": cursor}

    return page_parameters


PagingDep = Annotated[Paging, Depends(paging_query())]
Text = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=2000)]
Serial = Annotated[str, Field(min_length=1, max_length=64)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class SignatureIn(BaseModel):
    """The reporter's Ed25519 signature over the submission (docs/signing.md)."""

    model_config = ConfigDict(extra="forbid")

    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", description="the signing key's id")]
    nonce: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9._:-]{8,128}$", description="unique per party; makes it idempotent"
        ),
    ]
    value: Annotated[
        str, Field(max_length=200, description="base64 Ed25519 signature (88 characters)")
    ]


Signature = SignatureIn

# The values of the domain's enums, as literal types the checker and OpenAPI both read;
# tests/api/test_schemas.py holds each to its enum (KindName leaves out the operator).
CategoryName = Literal[
    "rifle",
    "pistol",
    "machine_gun",
    "launcher",
    "mortar",
    "vehicle",
    "night_vision",
    "ammunition_lot",
    "other",
]
KindName = Literal["supplier", "recipient", "inspector", "oversight", "investigator"]
InspectionMethodName = Literal["physical", "serial_read", "photo", "self_report"]
InspectionResultName = Literal[
    "verified", "serial_mismatch", "not_presented", "damaged", "location_mismatch"
]
LossCircumstancesName = Literal["lost", "stolen", "captured", "missing", "destroyed_in_action"]
DisposalMethodName = Literal["destroyed", "demilitarised"]
ItemStatus = Literal["in_custody", "lost", "disposed"]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class PartyIn(Body):
    id: PartyId
    name: Text
    kind: KindName
    parent: PartyId | None = None


class AgreementIn(Body):
    id: PartyId
    supplier: PartyId
    programme: Text
    authorized_holders: Annotated[list[PartyId], Field(max_length=1000)]
    retransfer_requires_consent: bool = True
    areas: Annotated[list[Text], Field(max_length=100)] = []


class ItemIn(Body):
    serial: Serial
    manufacturer: Text
    model: Text
    category: CategoryName
    agreement: PartyId
    recipient: PartyId
    occurred_at: Time
    registry_serial: bool = Field(False, description="true when the registry assigned the serial")
    calibre: Text | None = None
    country_of_manufacture: Text | None = None
    year: Annotated[int, Field(ge=1800, le=2200)] | None = None
    value: Annotated[str, Field(pattern=r"^\d{1,15}(\.\d{1,4})?$")] | None = None
    lot_size: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    description: LongText | None = None
    signature: Signature | None = None

    def details(self) -> dict[str, Any]:
        names = ("calibre", "country_of_manufacture", "year", "value", "lot_size", "description")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class TransferIn(Body):
    to: PartyId
    occurred_at: Time
    authority: Text | None = None
    from_holder: PartyId | None = Field(
        None,
        alias="from",
        description="if given, the transfer is refused unless this is the holder",
    )
    signature: Signature | None = None


class InspectionIn(Body):
    result: InspectionResultName
    method: InspectionMethodName
    occurred_at: Time
    inspector: PartyId | None = None
    observed_serial: Serial | None = None
    location: Text | None = None
    signature: Signature | None = None


class LossIn(Body):
    circumstances: LossCircumstancesName
    occurred_at: Time
    discovered_at: Time | None = None
    signature: Signature | None = None


class RecoveryIn(Body):
    by: PartyId
    occurred_at: Time
    location: Text | None = None
    condition: Text | None = None
    signature: Signature | None = None


class SightingIn(Body):
    observer: PartyId
    location: Text
    occurred_at: Time
    held_by: Text | None = None
    serial_as_read: Serial | None = None
    evidence: Annotated[list[Sha256Hex], Field(max_length=50)] = []
    signature: Signature | None = None


class DisposalIn(Body):
    method: DisposalMethodName
    occurred_at: Time
    certificate: Text | None = None
    witnesses: Annotated[list[Text], Field(max_length=20)] = []
    signature: Signature | None = None


class CorrectionIn(Body):
    entry: Annotated[LogIndex, Field(description="the log index of the entry being corrected")]
    reason: LongText
    occurred_at: Time | None = None
    signature: Signature | None = None


RECEIPT = (
    "the log's signed receipt of the entry: a C2SP signed note by the log key over "
    "custody-receipt/v1, origin, log index, leaf hash and recorded_at (docs/verification.md, "
    "section 10); keep it to prove later what the log accepted"
)


class Paged(BaseModel):
    """A page of a list: `next` is the cursor of the next page, null on the last."""

    next: str | None = Field(description="`cursor` of the next page; null on the last page")


def _entry_of(recorded: Recorded) -> dict[str, Any]:
    """What a write's answer says of the entry it recorded."""
    return {
        "version": recorded.version,
        "log_index": recorded.log_index,
        "receipt": recorded.receipt,
    }


class RecordedOut(BaseModel):
    id: str
    version: int
    log_index: int
    receipt: str = Field(description=RECEIPT)

    @classmethod
    def of(cls, recorded: Recorded, key: str | UUID | None = None) -> RecordedOut:
        """A write's answer naming `key` (by default the aggregate the write changed)."""
        return cls(id=str(recorded.id if key is None else key), **_entry_of(recorded))


class ItemRecordedOut(BaseModel):
    item_id: UUID
    version: int
    log_index: int
    receipt: str = Field(description=RECEIPT)

    @classmethod
    def of(cls, recorded: Recorded) -> ItemRecordedOut:
        """An item write's answer."""
        return cls(item_id=recorded.id, **_entry_of(recorded))


class ItemOut(BaseModel):
    # Read from the Item aggregate's attributes (`model_validate(item, from_attributes=True)`).
    item_id: UUID = Field(validation_alias="id")
    version: int
    serial: str
    normalised_serial: str
    registry_serial: bool
    manufacturer: str
    model: str
    category: str
    agreement: str
    programme: str
    supplier: str
    holder: str
    status: Literal["in_custody", "lost", "disposed"]
    issued_at: datetime
    last_inspection: dict[str, str] | None
    loss: dict[str, str] | None
    details: dict[str, Any]


class EntryOut(BaseModel):
    log_index: int
    version: int
    type: str
    occurred_at: str
    recorded_at: str
    leaf_hash: str = Field(description="hex SHA-256(0x00 || entry), RFC 6962 leaf hash")
    entry: str | None = Field(
        description="base64 of the exact entry bytes; null if the caller may not read it"
    )
    receipt: str | None = Field(default=None, description=RECEIPT)


class HistoryOut(Paged):
    item_id: UUID
    entries: list[EntryOut]


class CustodyOut(BaseModel):
    item_id: UUID
    at: datetime
    known_at: datetime | None
    holder: str
    status: Literal["in_custody", "lost", "disposed"]
    last_event_at: datetime
    log_indexes: list[int] = Field(description="the entries this answer rests on")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class LogEntryOut(BaseModel):
    log_index: int
    leaf_hash: str = Field(description="hex SHA-256(0x00 || entry)")
    entry: str | None = Field(
        description="base64 of the exact entry bytes; null if the caller may not read it"
    )
    receipt: str | None = Field(default=None, description=RECEIPT)


class LogEntriesOut(Paged):
    entries: list[LogEntryOut]


class InclusionProofOut(BaseModel):
    index: int
    size: int
    root: str = Field(description="base64 root hash of the tree of `size` leaves")
    hashes: list[str] = Field(description="base64 hashes, RFC 9162 section 2.1.3 order")


class ConsistencyProofOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_size: int = Field(serialization_alias="from")
    to_size: int = Field(serialization_alias="to")
    from_root: str
    to_root: str
    hashes: list[str] = Field(description="base64 hashes, RFC 9162 section 2.1.4 order")


class ProvedEntryOut(BaseModel):
    log_index: int
    entry: str = Field(description="base64 of the exact entry bytes")
    inclusion_proof: list[str] = Field(description="base64 hashes to the tree of `size` leaves")


class EvidenceEntriesOut(Paged):
    item_id: UUID
    checkpoint: str = Field(description="the signed checkpoint every page's proofs lead to")
    size: int = Field(description="its tree size")
    entries: list[ProvedEntryOut]


class HeadOut(BaseModel):
    aggregate_id: str
    version: int
    log_index: int
    leaf_hash: str = Field(description="base64 leaf hash of the head entry")


class MapProofOut(BaseModel):
    siblings: list[str] = Field(description="base64 sibling hashes, from the root down")
    found: HeadOut | None = Field(
        description="what the subtree at the end of the path holds: this aggregate's head, "
        "another aggregate's (a proof of absence), or nothing (absence)"
    )


class HeadProofOut(BaseModel):
    aggregate_id: str
    size: int = Field(description="the tree size asked about (a signed checkpoint's)")
    map_root: ProvedEntryOut = Field(description="the newest map-root entry within that size")
    proof: MapProofOut


SignatureB64 = Annotated[
    str, Field(min_length=88, max_length=88, description="an Ed25519 signature, base64")
]


class KeyIn(Body):
    public_key: Annotated[
        str, Field(min_length=44, max_length=44, description="raw Ed25519 public key, base64")
    ]
    proof: SignatureB64 = Field(
        description="the new key's signature over the registration message (docs/signing.md)"
    )
    endorsed_by: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] | None = Field(
        None, description="for a rotation: the id of an active key of the party"
    )
    endorsement: SignatureB64 | None = Field(
        None, description="for a rotation: that key's signature over the registration message"
    )


class KeyConfirmationIn(Body):
    confirmation: SignatureB64 = Field(
        description="the key's signature over the confirmation message (docs/signing.md)"
    )


class KeyHistoryOut(BaseModel):
    key_id: str
    public_key: str
    log_index: int
    registered_at: datetime
    registered_by: str
    endorsement: Literal["operator", "rotation"]
    endorsed_by: str | None
    how: str
    confirmed_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None


class KeysOut(BaseModel):
    party: str
    keys: list[KeyHistoryOut]


class PartyKeyOut(BaseModel):
    key_id: str
    valid_from: datetime
    revoked_at: datetime | None


class PartyOut(BaseModel):
    id: str
    name: str
    kind: str
    parent: str | None
    registered_at: datetime
    keys: list[PartyKeyOut]


class PartiesOut(Paged):
    parties: list[PartyOut]


class AgreementOut(BaseModel):
    # Read from the Agreement aggregate's attributes (`model_validate(a, from_attributes=True)`).
    id: str = Field(validation_alias="agreement_id")
    supplier: str
    programme: str
    authorized_holders: list[str]
    retransfer_requires_consent: bool
    areas: list[str]


class AgreementsOut(Paged):
    agreements: list[AgreementOut]


class KeyOut(BaseModel):
    party: str
    key_id: str
    log_index: int
    receipt: str = Field(description=RECEIPT)


class KeyRevocationIn(Body):
    reason: Text
    revoked_at: Time | None = Field(
        None, description="when the key stopped being trustworthy; default now"
    )


class ReceiptIn(Body):
    occurred_at: Time
    location: Text | None = None
    condition: Text | None = None
    signature: Signature | None = None


class TokenIn(Body):
    party: PartyId
    role: Literal["admin", "supplier", "partner", "inspector", "oversight", "investigator"]


class TokenCreatedOut(BaseModel):
    token: str = Field(description="shown once; only its SHA-256 is stored")
    token_id: UUID
    party: str
    role: str
    log_index: int
    receipt: str = Field(description=RECEIPT)


class TokenOut(BaseModel):
    token_id: UUID
    party: str
    role: str
    revoked: bool


class TokensOut(Paged):
    tokens: list[TokenOut]


class FindingOut(BaseModel):
    # Read from a policies Finding's attributes (`model_validate(finding, from_attributes=True)`),
    # its `finding_id` as `flag_id`; a FlagOut is built by name.
    model_config = ConfigDict(validate_by_name=True)
    flag_id: UUID = Field(validation_alias="finding_id")
    rule: str
    item_id: UUID
    severity: str
    since: datetime
    evidence: list[int] = Field(description="log indexes of the entries that prove it")
    detail: str
    cleared_by: str = Field(description="what may clear it (docs/policies.md)")
    cleared_by_kinds: list[str] = Field(
        description="the kinds of party whose entries may clear it; empty: nothing does"
    )


class UnaccountedItemOut(BaseModel):
    item_id: UUID
    serial: str
    category: str
    programme: str
    agreement: str
    recipient: str = Field(description="the party the item was issued to")
    holder: str = Field(description="the last holder as of the date")
    status: ItemStatus
    reasons: list[FindingOut]


class RecipientRatesOut(BaseModel):
    recipient: str
    issued: int
    accounted: int
    in_custody: int
    overdue: int
    accountability_rate: float = Field(description="accounted / issued")
    delinquency_rate: float = Field(description="items with inspections overdue / in custody")
    verified_independently: int = Field(
        description="items verified by an inspection of a party independent of the holder"
    )
    self_reported: int = Field(description="items verified by the holder's own self-report")


class UnaccountedReportOut(Paged):
    as_of: datetime
    known_at: datetime | None
    unaccounted: list[UnaccountedItemOut]
    recipients: list[RecipientRatesOut]
    as_of_log_size: int = Field(
        description="the answer reflects the log's first `as_of_log_size` entries: the stored"
        " accounts' position, or the log's size when the reference answered (`exact=true`)"
    )


class FlagOut(FindingOut):
    raised: bool = Field(description="put on record by a scan")
    holds: bool = Field(description="the finding still holds on the date asked about")
    resolution: dict[str, str] | None = Field(description="who resolved it, why, when")


class FlagsOut(Paged):
    flags: list[FlagOut]
    as_of_log_size: int = Field(
        description="the answer reflects the log's first `as_of_log_size` entries: the stored"
        " accounts' position, or the log's size when the reference answered (`exact=true`)"
    )


class ScanOut(BaseModel):
    findings: int
    raised: int


class FlagResolutionIn(Body):
    reason: LongText
