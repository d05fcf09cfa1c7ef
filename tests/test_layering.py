"""The arrows of docs/architecture.md, walked over the imports and strings of every module.

1. ledger/ and policies/ import no web code, no `api` and no CLI (policies/ sits above ledger/);
   api/ imports no CLI and not its library (typer): the CLI sits beside the API, not below it.
2. ledger/ is in layers, lowest first: domain < integrity < witness < store < verification <
   application < readmodels < operations. A module imports its own layer or lower ones only.
3. Only ledger/store/ imports a SQL driver (sqlite3, psycopg, eventsourcing's sqlite or postgres
   modules) or holds SQL text; so the domain, like every other layer, holds none.
4. api/, policies/ and the CLI reach the ledger through its faces only: `from ledger.store import
   LogStore`, a name the layer's `__init__` lists in `__all__`, never `ledger.store.log`.
5. No module imports another's private name (`_fleet`): what is shared has a public name.

bench/ is left out of 3 and 4: it measures the ledger against plain eventsourcing and SQL.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    "domain",
    "integrity",
    "witness",
    "store",
    "verification",
    "application",
    "readmodels",
    "operations",
)
WEB = {"fastapi", "starlette", "pydantic", "uvicorn", "typer", "rich", "jinja2", "api"}
CLI = {"cli", "custody_cli"}
FORBIDDEN = {"ledger": WEB | CLI | {"policies"}, "policies": WEB | CLI, "api": CLI | {"typer"}}
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool", "eventsourcing.sqlite", "eventsourcing.postgres")
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE \S+ SET\b|\bDELETE FROM\b|\bPRAGMA \w"
    r"|\b(CREATE|DROP|ALTER|LOCK) (UNIQUE |VIRTUAL )?(TABLE|INDEX|SCHEMA|EXTENSION)\b",
    re.S,
)
PENDING = {
    "ledger/readmodels/models.py": "the read models' statements move to ledger/store/ with their"
    " follower (branch follower, issue 15); until then they are the one exception to rule 3",
}


def python_files(*places: str) -> list[Path]:
    found: list[Path] = []
    for place in places:
        path = ROOT / place
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    return found


def outer_files() -> list[Path]:
    """api/, policies/ and the CLI (cli.py, or the custody_cli/ package)."""
    return python_files("api", "policies", "cli.py", "custody_cli")


def name_of(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


# The walker: what a module imports, and what its strings say ---------------------------------


def imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each import: `import a.b` gives ("a.b", None), `from a import b, c`
    gives ("a", "b") and ("a", "c"). Relative imports are resolved from the file's package."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = node.module or ""
            if node.level:
                package = path.relative_to(ROOT).parent.parts
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{module}" if module else base
            yield from ((module, alias.name) for alias in node.names)


def imported_roots(path: Path) -> set[str]:
    return {module.split(".")[0] for module, _ in imports(path)}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ledger" and len(parts) > 1 and parts[1] in LAYERS else None


def upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The imports of a ledger/ module from a layer above its own."""
    own = layer_of(name_of(path, root).removesuffix(".py").replace("/", "."))
    if own is None:
        return []
    return [
        module
        for module, _ in imports(path)
        if (layer := layer_of(module)) is not None and LAYERS.index(layer) > LAYERS.index(own)
    ]


def driver_imports(path: Path) -> list[str]:
    """The SQL drivers a module imports (`from eventsourcing import sqlite` is one too)."""
    found = []
    for module, name in imports(path):
        driver = next((m for m in (module, f"{module}.{name}") if is_driver(m)), None)
        if driver is not None:
            found.append(driver)
    return found


def is_driver(module: str) -> bool:
    return module in DRIVERS or module.startswith(tuple(f"{d}." for d in DRIVERS))


def sql_text(path: Path) -> list[str]:
    """String constants, and f-strings with each `{...}` read as a name, that read as SQL;
    docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documented = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = "" if id(node) in documented | parts else node.value
        else:
            continue
        if SQL.search(str(text)):
            found.append(f"line {node.lineno}: {str(text)[:60]!r}")
    return found


def faces(root: Path = ROOT) -> dict[str, set[str]]:
    """Each layer's face: the names its `__init__` lists in `__all__`."""
    found: dict[str, set[str]] = {}
    for layer in LAYERS:
        tree = ast.parse((root / "ledger" / layer / "__init__.py").read_text(encoding="utf-8"))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names |= {str(e.value) for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
        found[layer] = names
    return found


def past_the_faces(path: Path, face: dict[str, set[str]]) -> list[str]:
    """The imports of ledger/ that go past a layer's face: a module of the layer, or a name the
    face does not list."""
    found = []
    for module, name in imports(path):
        parts = module.split(".")
        if parts[0] != "ledger":
            continue
        layer = layer_of(module)
        whole = name is None and len(parts) == 2  # `import ledger.store`: the face itself
        if layer is None or len(parts) > 2 or (not whole and name not in face[layer]):
            found.append(f"{module}" + (f".{name}" if name else ""))
    return found


def private_imports(path: Path) -> list[str]:
    """Private names imported from another module (`from api.routes.custody import _fleet`)."""
    return [
        f"{module}.{name}"
        for module, name in imports(path)
        if name is not None and name.startswith("_") and not name.startswith("__")
    ]


# The rules over the tree ----------------------------------------------------------------------


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_inner_packages_do_not_import_outer_or_web_code(package: str) -> None:
    files = python_files(package)
    assert files, f"{package}/ has no modules"

    offenders = {name_of(f): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_each_layer_of_the_ledger_is_a_package_and_nothing_lies_beside_them() -> None:
    packages = {p.name for p in (ROOT / "ledger").iterdir() if (p / "__init__.py").exists()}
    modules = {p.name for p in (ROOT / "ledger").glob("*.py")}

    assert packages == set(LAYERS)
    assert modules == {"__init__.py"}


def test_a_ledger_module_imports_only_its_own_layer_or_lower_ones() -> None:
    offenders = {name_of(f): upward_imports(f) for f in python_files("ledger")}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_only_the_store_imports_a_sql_driver() -> None:
    files = [f for f in python_files("ledger") + outer_files() if "ledger/store/" not in name_of(f)]

    offenders = {name_of(f): driver_imports(f) for f in files if name_of(f) not in PENDING}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_only_the_store_holds_sql() -> None:
    files = [f for f in python_files("ledger") + outer_files() if "ledger/store/" not in name_of(f)]

    offenders = {name_of(f): sql_text(f) for f in files if name_of(f) not in PENDING}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_each_exception_to_the_sql_rule_still_needs_to_be_one() -> None:
    clean = [
        name
        for name in PENDING
        if not (ROOT / name).exists() or not (driver_imports(ROOT / name) or sql_text(ROOT / name))
    ]

    assert clean == [], f"{clean} hold no SQL any more: take them out of PENDING"


def test_the_store_does_hold_the_sql() -> None:
    files = python_files("ledger/store")

    assert [f.name for f in files if sql_text(f)], "the walker finds no SQL at all"
    assert [f.name for f in files if driver_imports(f)], "the walker finds no driver at all"


def test_api_policies_and_the_cli_reach_the_ledger_through_its_faces_only() -> None:
    face = faces()

    offenders = {name_of(f): past_the_faces(f, face) for f in outer_files()}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_each_face_lists_names_its_layer_defines_and_says_what_the_layer_is() -> None:
    for layer, names in faces().items():
        package = __import__(f"ledger.{layer}", fromlist=["__all__"])

        assert names, f"ledger/{layer}/__init__.py lists no names"
        assert sorted(package.__all__) == sorted(names)
        assert [n for n in names if not hasattr(package, n)] == []
        modules = {p.stem for p in (ROOT / "ledger" / layer).glob("*.py")}
        shadowed = [n for n in names & modules if not isinstance(getattr(package, n), ModuleType)]
        assert shadowed == [], f"{layer}: a name that hides the module of the same name"
        doc = (package.__doc__ or "").strip()
        assert doc.endswith(".") and doc.count(". ") == 0, f"{layer}: one sentence, got {doc!r}"


def test_no_module_imports_a_private_name_of_another() -> None:
    files = python_files("ledger", "api", "policies", "cli.py", "custody_cli", "bench")

    offenders = {name_of(f): private_imports(f) for f in files}

    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_the_architecture_document_draws_the_layers_in_this_order() -> None:
    text = " ".join((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").split())

    order = " < ".join(LAYERS)

    assert order in text


def test_the_ledger_package_draws_its_layers_from_the_top_down() -> None:
    import ledger

    drawn = [line.split()[0] for line in (ledger.__doc__ or "").splitlines() if line[:4] == " " * 4]

    assert [name for name in drawn if name in LAYERS] == list(reversed(LAYERS))


# The walker sees each kind of violation --------------------------------------------------------


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_walker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = write(tmp_path, "m.py", "from fastapi import FastAPI\nimport api.main\n")

    assert imported_roots(module) == {"fastapi", "api"}


def test_the_walker_sees_the_api_import_the_cli_or_its_library(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "api/m.py",
        "import typer\nfrom custody_cli.store import verify\ndef f():\n    import cli\n"
        "from ledger.application import Ledger\nfrom fastapi import FastAPI\n",
    )

    assert imported_roots(module) & FORBIDDEN["api"] == {"typer", "custody_cli", "cli"}


def test_the_walker_sees_an_import_from_a_higher_layer(tmp_path: Path) -> None:
    lower = write(tmp_path, "ledger/domain/m.py", "from ledger.store.log import LogStore\n")
    lazy = write(tmp_path, "ledger/store/m.py", "def f():\n    import ledger.application.x\n")
    same = write(
        tmp_path, "ledger/store/n.py", "from ledger.store import log\nimport ledger.domain\n"
    )

    assert upward_imports(lower, tmp_path) == ["ledger.store.log"]
    assert upward_imports(lazy, tmp_path) == ["ledger.application.x"]
    assert upward_imports(same, tmp_path) == []


def test_the_walker_sees_a_sql_driver(tmp_path: Path) -> None:
    plain = write(tmp_path, "a.py", "import sqlite3\n")
    library = write(tmp_path, "b.py", "from eventsourcing.postgres import PostgresDatastore\n")
    submodule = write(
        tmp_path, "c.py", "from eventsourcing import sqlite\nfrom psycopg.sql import SQL\n"
    )
    harmless = write(tmp_path, "d.py", "from eventsourcing.persistence import Tracking\n")

    assert driver_imports(plain) == ["sqlite3"]
    assert driver_imports(library) == ["eventsourcing.postgres"]
    assert driver_imports(submodule) == ["eventsourcing.sqlite", "psycopg.sql"]
    assert driver_imports(harmless) == []


def test_the_walker_sees_sql_text_but_not_a_docstring_about_it(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "m.py",
        '"""Reads with SELECT ... FROM custody_log."""\n'
        'def f(t):\n    """DELETE FROM is not called here."""\n'
        '    a = f"SELECT {t} FROM {t} WHERE x = ?"\n'
        '    b = "INSERT INTO custody_log VALUES (?)"\n'
        "    c = 'LOCK TABLE x IN EXCLUSIVE MODE'\n"
        '    d = "select the item from the list"\n',
    )

    found = sql_text(module)

    assert [line.split(":")[0] for line in found] == ["line 4", "line 5", "line 6"]


def test_the_walker_sees_an_import_past_a_face(tmp_path: Path) -> None:
    face = {layer: set() for layer in LAYERS} | {"store": {"LogStore"}}
    module = write(
        tmp_path,
        "api/m.py",
        "from ledger.store import LogStore\nfrom ledger.store.log import LogStore as L\n"
        "from ledger.store import log\nimport ledger.store.log\nfrom ledger import store\n"
        "import ledger.store as store\n",
    )

    found = past_the_faces(module, face)

    assert found == [
        "ledger.store.log.LogStore",
        "ledger.store.log",
        "ledger.store.log",
        "ledger.store",
    ]


def test_the_walker_sees_a_private_name_imported(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "m.py",
        "from api.routes.custody import _fleet, fleet\nfrom x import __version__\n",
    )

    assert private_imports(module) == ["api.routes.custody._fleet"]
