"""Routes that pass a request body's fields to the Ledger by name (`**body.model_dump()`) are
checked as the app is built (api/schemas.py `passed_through`): a field the Ledger method does
not take, or one the route passes itself, stops the app at import instead of answering 500."""

from __future__ import annotations

import pytest

from api.routes.items import ITEM_EVENTS
from api.schemas import Body, TransferIn, passed_through
from ledger.application.ledger import Ledger


class TransferWithAnExtra(TransferIn):
    condition: str = "worn"


class TransferNamingItsActor(TransferIn):
    actor: str = "someone"


def test_a_body_field_the_ledger_method_does_not_take_stops_the_app_being_built() -> None:
    with pytest.raises(TypeError, match=r"Ledger.transfer takes no \['condition'\]"):
        passed_through(TransferWithAnExtra, Ledger.transfer, less={"signature"})


def test_a_body_field_the_route_passes_itself_stops_the_app_being_built() -> None:
    with pytest.raises(
        TypeError, match=r"TransferNamingItsActor has \['actor'\], which its route passes itself"
    ):
        passed_through(
            TransferNamingItsActor, Ledger.transfer, less={"signature"}, own={"actor", "via"}
        )


def test_every_item_event_body_is_taken_by_its_ledger_method_as_it_stands() -> None:
    for event in ITEM_EVENTS:
        method = getattr(Ledger, event.action.value)
        checked = passed_through(event.body, method, less={"signature"}, own={"via", "actor"})
        assert checked is event.body
        assert issubclass(event.body, Body)
