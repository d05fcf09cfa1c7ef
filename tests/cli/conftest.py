"""What every `custody` command test shares: a folder of its own as the current directory, and no
CUSTODY_* setting from the environment the tests were started in (tests/conftest.py's state folder
excepted, so that no client state reaches the home directory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CUSTODY_") and n != "CUSTODY_STATE"]:
        monkeypatch.delenv(name)
    return tmp_path
