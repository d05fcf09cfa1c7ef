"""Packaging (issue 16): the wheel builds without a setuptools warning, carries the dashboard's
templates and stylesheet, names its licence as an SPDX expression, and installs only the top-level
names docs/decisions/0005-install-names.md records."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "ledger", "api", "policies", "custody_cli")
TOP_LEVEL_NAMES = {"ledger", "api", "policies", "custody_cli"}


@dataclass(frozen=True)
class Built:
    returncode: int
    log: str
    wheel: zipfile.ZipFile | None

    def read(self, suffix: str) -> str:
        assert self.wheel is not None
        name = next(n for n in self.wheel.namelist() if n.endswith(suffix))
        return self.wheel.read(name).decode()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel of a copy of the sources, built once for the module's tests."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)  # type: ignore[operator]
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]
    done = subprocess.run(
        [*pip, "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wheels = list((tmp_path / "dist").glob("custody_ledger-*.whl"))
    wheel = zipfile.ZipFile(wheels[0]) if len(wheels) == 1 else None
    return Built(done.returncode, done.stdout[-3000:] + done.stderr[-3000:], wheel)


def test_the_wheel_builds_without_warnings_and_carries_the_dashboard_files(built: Built) -> None:
    assert built.returncode == 0, built.log
    assert "BuildBackendWarning" not in built.log, built.log
    assert "SetuptoolsDeprecationWarning" not in built.log, built.log
    assert built.wheel is not None, built.log
    names = built.wheel.namelist()
    assert "api/ui/templates/item.html" in names
    assert "api/ui/static/dashboard.css" in names
    assert "License-Expression: Apache-2.0" in built.read(".dist-info/METADATA")


def test_the_wheel_installs_exactly_the_recorded_top_level_names(built: Built) -> None:
    """docs/decisions/0005-install-names.md: no `cli` module any more (it collided with other
    distributions' `cli`); a new top-level name is a decision, not a side effect."""
    assert built.wheel is not None, built.log

    tops = {
        name.split("/")[0].removesuffix(".py")
        for name in built.wheel.namelist()
        if not name.split("/")[0].endswith((".dist-info", ".data"))
    }

    assert tops == TOP_LEVEL_NAMES
    assert set(built.read(".dist-info/top_level.txt").split()) == TOP_LEVEL_NAMES


def test_the_custody_command_runs_the_cli_package(built: Built) -> None:
    assert built.wheel is not None, built.log

    scripts = built.read(".dist-info/entry_points.txt")

    assert "[console_scripts]\ncustody = custody_cli:main\n" in scripts
