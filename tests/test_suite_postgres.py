"""Without a reachable PostgreSQL server, the PostgreSQL half of the suite is skipped with a line
naming CUSTODY_TEST_POSTGRES; under CI it fails (tests/conftest.py), as the browser tests do
without Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOWHERE = "postgresql://postgres@127.0.0.1:9/test"


def run_suite_part(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"CUSTODY_TEST_POSTGRES": NOWHERE, "PYTHONPATH": str(ROOT)} | ({"CI": "1"} if ci else {})
    test = "tests/test_cli_store.py::test_init_creates_a_missing_postgresql_schema"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [False, True], ids=["workstation", "ci"])
def test_without_postgresql_its_tests_are_skipped_or_under_ci_fail(ci: bool) -> None:
    done = run_suite_part(ci)

    if ci:
        assert done.returncode == 1, done.stdout
        assert "CI must have PostgreSQL" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "1 skipped" in done.stdout
        assert (
            f"PostgreSQL tests skipped: {NOWHERE} is not reachable; start it, or set"
            " CUSTODY_TEST_POSTGRES"
        ) in done.stdout
