"""Checks that need no other batch's answer, run in worker processes and answered in order.

`custody verify` hands each batch of log rows to the next free worker for the checks of one entry
at a time (leaf hash, entry against its stored event, receipt signature) and takes the answers
back in log order, so the first bad position is still the first one named; the checks that run
along the log (tree, checkpoints, map roots) stay in the calling process.

Workers are forked: they inherit the check (the mapper, the log key) instead of receiving it
pickled, and start in milliseconds. At most `ahead` batches are out at once, so memory holds a
bounded number of batches whatever the log's size. Where fork is not available, or with no
workers asked for, the checks run in the calling process, in the same order.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")

_check: Callable[[Any], Any] | None = None
"""The check a forked worker runs, set once when the worker starts."""


def in_order(
    check: Callable[[Job], Answer], jobs: Iterable[Job], *, workers: int, ahead: int
) -> Generator[tuple[Job, Answer], None, None]:
    """Each job with `check(job)`, in the order of `jobs`; `jobs` is read only as far as `ahead`
    jobs beyond the one answered last. Closing the generator stops the workers."""
    if workers < 1 or "fork" not in multiprocessing.get_all_start_methods():
        for job in jobs:
            yield job, check(job)
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_adopt,
        initargs=(check,),
    )
    try:
        pending: deque[tuple[Job, Future[Answer]]] = deque()
        for job in jobs:
            pending.append((job, pool.submit(_run, job)))
            if len(pending) > ahead:
                yield _answered(pending.popleft())
        while pending:
            yield _answered(pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _answered(sent: tuple[Job, Future[Answer]]) -> tuple[Job, Answer]:
    job, future = sent
    return job, future.result()


def _adopt(check: Callable[[Any], Any]) -> None:
    global _check
    _check = check


def _run(job: Any) -> Any:
    if _check is None:  # pragma: no cover - the initializer always ran first
        raise RuntimeError("a verify worker started without its check")
    return _check(job)
