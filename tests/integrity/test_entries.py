"""Canonical entries refuse what they cannot hold, with an error, never a crash."""

from __future__ import annotations

import pytest

from ledger.domain.errors import InvalidInput
from ledger.integrity.entries import MAX_DEPTH, json_value


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_a_value_nested_to_the_limit_goes_into_an_entry() -> None:
    assert json_value(nested(MAX_DEPTH)) == nested(MAX_DEPTH)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_a_value_nested_deeper_is_refused_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(InvalidInput, match=f"nested more than {MAX_DEPTH} levels"):
        json_value(nested(depth))
