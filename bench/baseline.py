"""The baseline: a plain eventsourcing application, no entries, no hash chain, no Merkle tree, no
checks beyond the library's own. Each benchmark runs it against the same kind of store (or the very
same store, for reads) in the same run as the Ledger."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI
from pydantic import BaseModel
from synth import ItemPlan


class Rifle(Aggregate):
    @event("Issued")
    def __init__(self, serial: str, holder: str) -> None:
        self.serial, self.holder = serial, holder

    @event("Transferred")
    def transfer(self, to: str) -> None:
        self.holder = to


def open_plain(env: dict[str, str], *, create: bool) -> Application[UUID]:
    return Application(env=env | {"CREATE_TABLE": "y" if create else "n"})


def write_single(app: Application[UUID], plan: ItemPlan) -> None:
    """One write per event; like the Ledger's commands, each change loads its aggregate first."""
    rifle = Rifle(serial=plan.serial, holder=plan.recipient)
    app.save(rifle)
    for step in plan.steps:
        rifle = app.repository.get(rifle.id)
        rifle.transfer(to=step.value)
        app.save(rifle)


def write_bulk(app: Application[UUID], items: Iterable[ItemPlan], *, batch: int) -> int:
    """The same numbers of aggregates and events, `batch` aggregates per save."""
    events, chunk = 0, []
    for plan in items:
        rifle = Rifle(serial=plan.serial, holder=plan.recipient)
        for step in plan.steps:
            rifle.transfer(to=step.value)
        chunk.append(rifle)
        events += plan.events
        if len(chunk) == batch:
            app.save(*chunk)
            chunk.clear()
    if chunk:
        app.save(*chunk)
    return events


def replay_all(app: Application[UUID], *, fold: bool, page: int = 10_000) -> int:
    """Read every stored event in notification order and decode it with the library's mapper;
    with `fold`, also rebuild every aggregate with the library's own `mutate`. Answers the event
    count."""
    aggregates: dict[Any, Any] = {}
    count = 0
    for notification in _notifications(app, page):
        domain_event: Any = app.mapper.to_domain_event(notification)
        count += 1
        if fold:
            key = domain_event.originator_id
            aggregates[key] = domain_event.mutate(aggregates.get(key))
    return count


def _notifications(app: Application[UUID], page: int) -> Iterator[Any]:
    start: int | None = None
    while batch := app.recorder.select_notifications(
        start=start, limit=page, inclusive_of_start=False
    ):
        yield from batch
        start = batch[-1].id


# Over HTTP: the same stack as the Ledger's API (FastAPI, pydantic bodies, sync routes on
# uvicorn's thread pool), without the Ledger behind it. ---------------------------------------


class IssueIn(BaseModel):
    serial: str
    holder: str


class TransferIn(BaseModel):
    to: str


class RecordedOut(BaseModel):
    id: UUID
    version: int


def create_http_app(app: Application[UUID]) -> FastAPI:
    api = FastAPI(title="plain eventsourcing baseline")

    @api.post("/items", status_code=201, response_model=RecordedOut)
    def issue(body: IssueIn) -> RecordedOut:
        rifle = Rifle(serial=body.serial, holder=body.holder)
        app.save(rifle)
        return RecordedOut(id=rifle.id, version=rifle.version)

    @api.post("/items/{rifle_id}/transfers", status_code=201, response_model=RecordedOut)
    def transfer(rifle_id: UUID, body: TransferIn) -> RecordedOut:
        rifle = app.repository.get(rifle_id)
        rifle.transfer(to=body.to)
        app.save(rifle)
        return RecordedOut(id=rifle.id, version=rifle.version)

    return api


class SameStore(Application[UUID]):
    """A plain eventsourcing application opened on the Ledger's own store, to read it the library's
    way. Named like the Ledger, so that PostgreSQL finds the Ledger's events table."""

    name = "Custody"


def open_same_store(env: dict[str, str]) -> Application[UUID]:
    return SameStore(env=env | {"CREATE_TABLE": "n"})
