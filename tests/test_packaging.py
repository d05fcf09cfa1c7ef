"""Packaging (issue 16): the wheel builds without a setuptools warning, carries the dashboard's
templates and stylesheet, and names its licence as an SPDX expression."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "ledger", "api", "policies", "custody_cli")


def test_the_wheel_builds_without_warnings_and_carries_the_dashboard_files(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)  # type: ignore[operator]
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]

    built = subprocess.run(
        [*pip, "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    log = built.stdout + built.stderr
    assert "BuildBackendWarning" not in log, log[-3000:]
    assert "SetuptoolsDeprecationWarning" not in log, log[-3000:]
    (wheel,) = (tmp_path / "dist").glob("custody_ledger-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "api/ui/templates/item.html" in names
    assert "api/ui/static/dashboard.css" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()
