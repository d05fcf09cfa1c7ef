"""The suite's own rules, checked on its source: every `pytest.raises` names the message it expects
(`match=`), so a refusal by the wrong check, or for the wrong reason, fails the test."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def raises_without_match(source: str) -> list[int]:
    """The lines of `pytest.raises(...)` calls in `source` that give no `match=`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "raises"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
        and not any(keyword.arg == "match" for keyword in node.keywords)
    ]


def test_every_pytest_raises_checks_the_message() -> None:
    unchecked = {
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in raises_without_match(path.read_text(encoding="utf-8"))
    }

    assert sorted(unchecked) == []


def test_a_pytest_raises_without_match_is_found() -> None:
    source = (
        "import pytest\n"
        "with pytest.raises(ValueError, match='bad'):\n    int('x')\n"
        "with pytest.raises(ValueError) as caught:\n    int('x')\n"
    )

    assert raises_without_match(source) == [4]
