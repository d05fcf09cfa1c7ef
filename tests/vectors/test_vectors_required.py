"""The RFC 6962 vectors are never silently skipped in CI: without them their tests are skipped on
a workstation and fail under CI (`CI` set), naming the variable that points at them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = Path(__file__).with_name("test_rfc6962_vectors.py")
ROOT = Path(__file__).resolve().parents[2]


def run_without_vectors(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The vectors module, run by pytest in a child process with the vectors pointed away."""
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    environ |= {"CUSTODY_TEST_VECTORS": str(tmp_path / "nowhere"), "PYTHONPATH": str(ROOT)} | env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(MODULE)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_the_vectors_a_workstation_skips_them_saying_where_they_were_looked_for(
    tmp_path: Path,
) -> None:
    run = run_without_vectors(tmp_path)

    assert run.returncode == pytest.ExitCode.OK, run.stdout
    assert "passed" not in run.stdout and "failed" not in run.stdout
    assert f"the public vectors are not at {tmp_path / 'nowhere'}" in run.stdout


def test_without_the_vectors_ci_fails(tmp_path: Path) -> None:
    run = run_without_vectors(tmp_path, CI="true")

    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout
    assert "1 error" in run.stdout and "passed" not in run.stdout  # the fixture fails it
    assert "CI must have the RFC 6962 vectors: the public vectors are not at" in run.stdout
    assert "point CUSTODY_TEST_VECTORS at the folder" in run.stdout
