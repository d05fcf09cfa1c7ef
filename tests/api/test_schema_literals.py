"""The API's literal types (api/schemas.py) name exactly the values of the domain's enums, so that a
value added to an enum is not silently refused by the API, nor one taken away still accepted."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest

from api import schemas
from ledger.domain.items import (
    Category,
    DisposalMethod,
    InspectionMethod,
    InspectionResult,
    LossCircumstances,
)
from ledger.domain.parties import PartyKind
from ledger.domain.traces import ANSWERED, OPEN, OVERDUE, TraceStatus

PAIRS: list[tuple[Any, type[StrEnum], set[StrEnum]]] = [
    (schemas.CategoryName, Category, set()),
    (schemas.KindName, PartyKind, {PartyKind.OPERATOR}),  # nobody registers an operator
    (schemas.InspectionMethodName, InspectionMethod, set()),
    (schemas.InspectionResultName, InspectionResult, set()),
    (schemas.LossCircumstancesName, LossCircumstances, set()),
    (schemas.DisposalMethodName, DisposalMethod, set()),
]


@pytest.mark.parametrize(
    ("literal", "enum", "left_out"), PAIRS, ids=[e.__name__ for _, e, _ in PAIRS]
)
def test_each_literal_names_its_enums_values_in_order(
    literal: Any, enum: type[StrEnum], left_out: set[StrEnum]
) -> None:
    assert get_args(literal) == tuple(m.value for m in enum if m not in left_out)


def test_a_traces_status_is_one_of_its_three_constants() -> None:
    assert get_args(TraceStatus) == (OPEN, OVERDUE, ANSWERED)
