"""ledger/verification/pool.py: the single-entry checks of `custody verify` in worker processes,
answered in the order the batches were given (tests/verifying.py holds the whole verify to the
one-process verdicts)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator

from ledger.verification.pool import in_order


def slow_first(job: int) -> tuple[int, int]:
    time.sleep(0.2 if job == 0 else 0)
    return job * job, os.getpid()


def test_answers_come_back_in_the_order_given_though_a_later_job_finishes_first() -> None:
    answers = list(in_order(slow_first, range(6), workers=2, ahead=3))

    assert [(job, square) for job, (square, _) in answers] == [(n, n * n) for n in range(6)]


def test_the_checks_run_in_other_processes_than_the_callers() -> None:
    pids = {pid for _, (_, pid) in in_order(slow_first, range(6), workers=2, ahead=3)}

    assert os.getpid() not in pids


def test_with_no_workers_the_checks_run_in_the_calling_process() -> None:
    pids = {pid for _, (_, pid) in in_order(slow_first, range(3), workers=0, ahead=0)}

    assert pids == {os.getpid()}


def test_jobs_are_read_only_as_far_as_the_answers_taken_plus_those_ahead() -> None:
    read: list[int] = []

    def jobs() -> Iterator[int]:
        for n in range(100):
            read.append(n)
            yield n

    answers = in_order(slow_first, jobs(), workers=2, ahead=3)
    next(answers)

    assert len(read) == 4  # the one answered and three ahead: memory stays bounded
    answers.close()


def test_closing_the_answers_early_stops_the_workers() -> None:
    answers = in_order(slow_first, range(100), workers=2, ahead=3)
    next(answers)

    answers.close()

    assert multiprocessing.active_children() == []
