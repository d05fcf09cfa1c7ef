"""Dependencies point one way: api -> policies -> ledger; ledger/, policies/ import no web code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "ledger": {
        "fastapi",
        "starlette",
        "pydantic",
        "api",
        "policies",
        "uvicorn",
        "typer",
        "rich",
        "jinja2",
        "custody_cli",
    },
    "policies": {
        "fastapi",
        "starlette",
        "pydantic",
        "api",
        "uvicorn",
        "typer",
        "rich",
        "jinja2",
        "custody_cli",
    },
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_inner_packages_do_not_import_outer_or_web_code(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"

    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files
    }

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_the_walker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from fastapi import FastAPI\nimport api.main\n")

    assert imported_roots(module) == {"fastapi", "api"}
