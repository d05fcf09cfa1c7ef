"""What the `custody` command prints: the two consoles, failures as one line, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer.exceptions import TyperException

from ledger.domain import CustodyError

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
T = TypeVar("T")

DEBUG = {"on": False}
"""`--debug` (or CUSTODY_DEBUG=1): a failure shows its traceback instead of one line."""


@contextmanager
def failures() -> Iterator[None]:
    """Every failure ends as one line on stderr naming the fix, and exit status 1; typer's own
    exits and usage errors (exit 2) pass through. `--debug` lets the exception through."""
    try:
        yield
    except (TyperException, typer.Exit, typer.Abort):
        raise
    except Exception as error:
        if DEBUG["on"]:
            raise
        line = " ".join(one_line(error).split())
        err.print(f"custody: {line}", markup=False, highlight=False)
        raise typer.Exit(1) from None


def one_line(error: Exception) -> str:
    """What went wrong and, where it is known, what to do about it."""
    if isinstance(error, CustodyError):
        return error.message
    if isinstance(error, FileNotFoundError):
        return f"no such file: {error.filename}"
    if isinstance(error, OSError):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    if isinstance(error, httpx.TransportError):
        where = error.request.url if _has_request(error) else "the server"
        return (
            f"cannot reach {where} ({error or type(error).__name__}): is `custody serve`"
            " running there? (--server, CUSTODY_SERVER)"
        )
    if isinstance(error, PersistenceError):
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"the store cannot be used: {first} (--db, CUSTODY_DB)"
    return (
        f"unexpected error: {type(error).__name__}: {error}; run `custody --debug ...` for the"
        " traceback, and report it"
    )


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - httpx raises if the error has no request
    except RuntimeError:
        return False
    return True


def with_progress(label: str, total: int, work: Callable[[Callable[[int], None]], T]) -> T:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=total)
        return work(lambda n: bar.advance(task, n))
