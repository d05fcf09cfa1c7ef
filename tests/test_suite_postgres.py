"""Without a reachable PostgreSQL server, the PostgreSQL half of the suite is skipped with a line
naming CUSTODY_TEST_POSTGRES; under CI it fails (tests/conftest.py), as the browser tests do
without Chromium. In process: the conftest's check is pointed at a port nothing listens on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.conftest as conftest

NOWHERE = "postgresql://postgres@127.0.0.1:9/test"


class Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)

    def section(self, title: str) -> None:
        self.lines.append(f"== {title}")


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(conftest, "POSTGRES", NOWHERE)
    monkeypatch.setattr(conftest, "FIGURES", [])
    monkeypatch.delenv("CI", raising=False)
    conftest.postgres_problem.cache_clear()
    yield
    conftest.postgres_problem.cache_clear()  # the real server is asked again


def test_without_postgresql_its_tests_are_skipped_with_one_line_naming_the_variable(
    no_server: None,
) -> None:
    reporter = Reporter()

    with pytest.raises(pytest.skip.Exception, match="is not reachable") as skipped:
        conftest.require_postgres()
    conftest.pytest_terminal_summary(reporter)  # type: ignore[arg-type]

    assert str(skipped.value).startswith(f"PostgreSQL at {NOWHERE} is not reachable (")
    assert str(skipped.value).endswith("start it, or point CUSTODY_TEST_POSTGRES at one")
    assert reporter.lines == [
        f"PostgreSQL tests skipped: {NOWHERE} is not reachable; start it, or set"
        " CUSTODY_TEST_POSTGRES"
    ]


def test_under_ci_a_postgresql_test_without_postgresql_fails(
    no_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI must have PostgreSQL") as failed:
        conftest.require_postgres()

    assert str(failed.value).startswith(f"CI must have PostgreSQL: PostgreSQL at {NOWHERE}")


@pytest.mark.postgres
def test_with_postgresql_reachable_nothing_is_skipped_or_said() -> None:
    reporter = Reporter()
    conftest.postgres_problem.cache_clear()

    conftest.require_postgres()
    conftest.pytest_terminal_summary(reporter)  # type: ignore[arg-type]

    assert not [line for line in reporter.lines if "PostgreSQL" in line]
