"""The private eventsourcing hooks we override or call are the ones docs/decisions/0006 names, on
the version it names: an upgrade of the library fails here until the record is revisited."""

from __future__ import annotations

import inspect
import pkgutil
import re
import tomllib
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "docs" / "decisions" / "0006-eventsourcing-hooks.md"
HOOK_ROW = re.compile(r"^\| `(_\w+)` \| `([\w.]+):(\w+)` \| `([^`]*)` \|", re.MULTILINE)


def pinned_in_record() -> str:
    found = re.search(r"Pinned: eventsourcing==(\S+?)[ (]", RECORD.read_text(encoding="utf-8"))
    assert found, f"{RECORD.name} names no pinned version"
    return found.group(1)


def hooks_in_record() -> list[tuple[str, str, str, list[str]]]:
    """(hook, module, class, parameter names) for each row of the record's table."""
    rows = HOOK_ROW.findall(RECORD.read_text(encoding="utf-8"))
    return [(hook, module, cls, params.split(", ")) for hook, module, cls, params in rows]


def test_the_installed_eventsourcing_is_the_version_the_record_was_written_for() -> None:
    assert version("eventsourcing") == pinned_in_record()


def test_pyproject_and_the_lock_file_pin_the_version_the_record_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")

    assert f"eventsourcing[postgres]=={pinned_in_record()}" in project["project"]["dependencies"]
    assert re.search(rf"^eventsourcing=={re.escape(pinned_in_record())} ", lock, re.MULTILINE)


def test_the_record_names_every_hook_the_ledger_overrides_or_calls() -> None:
    named = {hook for hook, *_ in hooks_in_record()}

    assert named == {
        "_insert_events",
        "_lock_table",
        "_fetch_ids_after_insert_events",
        "_create_connection",
        "_max_tracking_id",
        "_insert_tracking",
        "_notify",
        "_record",
        "_take_snapshots",
    }


@pytest.mark.parametrize(
    ("hook", "module", "cls", "parameters"),
    hooks_in_record(),
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_hook_is_still_on_the_library_class_with_the_parameters_we_expect(
    hook: str, module: str, cls: str, parameters: list[str]
) -> None:
    method = getattr(getattr(import_module(module), cls), hook, None)

    assert method is not None, f"{module}:{cls} has no {hook}"
    assert list(inspect.signature(method).parameters) == parameters


def is_theirs(cls: type) -> bool:
    return cls.__module__.startswith("eventsourcing.")


def our_subclasses_of_the_library() -> list[type]:
    """Every class of ledger/ and policies/ with an eventsourcing class among its bases."""
    found = []
    for package in ("ledger", "policies"):
        for module in pkgutil.walk_packages(import_module(package).__path__, f"{package}."):
            for value in vars(import_module(module.name)).values():
                if (
                    inspect.isclass(value)
                    and value.__module__ == module.name
                    and any(is_theirs(base) for base in value.__mro__)
                ):
                    found.append(value)
    return found


def test_the_walk_finds_the_recorders_the_pool_and_the_views() -> None:
    names = {cls.__name__ for cls in our_subclasses_of_the_library()}

    assert {"SQLiteLogRecorder", "PostgresLogRecorder", "StatementCachingPool"} <= names


def test_our_overrides_are_of_hooks_the_record_names() -> None:
    """Every underscore method of ours that shadows one of an eventsourcing base class is in the
    table, so a new override cannot slip in without the record."""
    recorded = {hook for hook, *_ in hooks_in_record()}
    overridden = {
        f"{ours.__name__}.{name}"
        for ours in our_subclasses_of_the_library()
        for name, value in vars(ours).items()
        if name.startswith("_") and not name.startswith("__") and callable(value)
        for base in ours.__mro__
        if is_theirs(base) and name in vars(base)
    }

    assert {o for o in overridden if o.split(".")[1] not in recorded} == set()


def test_every_private_library_method_we_call_is_in_the_record() -> None:
    """A call `._name(` in ledger/ or policies/ of an underscore method that an eventsourcing base
    of ours defines is a hook we rely on: the table must name it. Names of our own methods that
    no base of theirs defines (Item._record) are ours."""
    ours = our_subclasses_of_the_library()
    theirs = {
        name
        for cls in ours
        for base in cls.__mro__
        if is_theirs(base)
        for name, value in vars(base).items()
        if name.startswith("_") and not name.startswith("__") and callable(value)
    }
    own = {
        name
        for cls in ours
        for name in vars(cls)
        if not any(name in vars(base) for base in cls.__mro__ if is_theirs(base))
    }
    called = {
        name
        for package in ("ledger", "policies")
        for path in (ROOT / package).rglob("*.py")
        for name in re.findall(r"\.(_[a-z]\w*)\(", path.read_text(encoding="utf-8"))
    }

    assert (called & theirs) - own - {hook for hook, *_ in hooks_in_record()} == set()
