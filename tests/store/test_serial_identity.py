"""One identity per marking, on SQLite and PostgreSQL: a look-alike of an issued item is refused as
a duplicate by the index of identities (ledger/store/serials.py), kept in the write transaction;
stores
older than the index get it filled from the log; the serial as marked is kept verbatim."""

from __future__ import annotations

import re

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import DuplicateItem, InvalidInput
from ledger.operations.imports import file_digest, import_rows, read_rows
from ledger.store.serials import FTS_TABLE, SERIALS_TABLE
from tests.conftest import LedgerFactory
from tests.domain.test_serial_form import LOOK_ALIKES, REFUSED
from tests.programme import ADMIN, ago, issue, register

ONE_PER_CLASS = [values[0] for values in LOOK_ALIKES.values()] + [
    "\u03b1\u03ba-1000",
    "AK-\u06f1\u06f0\u06f0\u06f0",
    "AK\u00b71000",
]


@pytest.mark.parametrize("serial", ONE_PER_CLASS)
def test_issuing_a_look_alike_of_an_issued_item_is_refused_as_a_duplicate(
    store_ledger: Ledger, serial: str
) -> None:
    register(store_ledger)
    first = issue(store_ledger, "AK-1000")

    with pytest.raises(
        DuplicateItem, match="looks like serial 'AK-1000' of item|was issued already"
    ) as refused:
        issue(store_ledger, serial)

    assert refused.value.message in (
        f"Maker M1 serial {serial!r} looks like serial 'AK-1000' of item {first}, issued already"
        " (normal form 'aklooo'; docs/identity.md)",
        f"Maker M1 serial {serial!r} was issued already (item {first}, normal form 'aklooo')",
    )  # the second where the legacy key of its id is the same: the store refuses version 1
    assert [m.item_id for m in store_ledger.log_store.serials.by_serial("aklooo")] == [str(first)]


def test_a_look_alike_model_name_makes_a_duplicate_too(store_ledger: Ledger) -> None:
    register(store_ledger)
    issue(store_ledger, "AK-1000", model="AK-74M")

    with pytest.raises(
        DuplicateItem,
        match="serial 'AK-1000' looks like serial 'AK-1000' of item .*, issued already",
    ):
        issue(store_ledger, "AK-1000", model="\u0410\u041a-74\u041c")


def test_the_same_serial_of_another_model_is_another_item(store_ledger: Ledger) -> None:
    register(store_ledger)
    issue(store_ledger, "AK-1000", model="M1")

    other = issue(store_ledger, "AK-1000", model="M2")

    assert store_ledger.item(other).model == "M2"


@pytest.mark.parametrize(
    ("serial", "reason"), [case for cases in REFUSED.values() for case in cases][::3]
)
def test_a_serial_the_normal_form_refuses_records_nothing(
    store_ledger: Ledger, serial: str, reason: str
) -> None:
    register(store_ledger)
    size = store_ledger.log_store.log_size()

    with pytest.raises(InvalidInput, match=re.escape(reason)) as refused:
        issue(store_ledger, serial)

    assert reason in refused.value.message
    assert store_ledger.log_store.log_size() == size


def test_the_serial_as_marked_is_kept_verbatim_beside_its_normal_form(
    store_ledger: Ledger,
) -> None:
    register(store_ledger)
    marked = "\uff21\uff2b\uff0d\uff11\uff10\uff10\uff10"

    found = store_ledger.item(issue(store_ledger, f" {marked} "))

    assert (found.serial, found.normalised_serial) == (marked, "aklooo")


def test_two_look_alikes_in_one_batch_are_refused_together(store_ledger: Ledger) -> None:
    register(store_ledger)
    size = store_ledger.log_store.log_size()

    with (
        pytest.raises(
            DuplicateItem, match="serial 'AK.1000' looks like serial 'AK-1000'"
        ) as refused,
        store_ledger.batch(),
    ):
        issue(store_ledger, "AK-1000")
        issue(store_ledger, "AK.1000")

    assert "serial 'AK.1000' looks like serial 'AK-1000'" in refused.value.message
    assert store_ledger.log_store.log_size() == size


def test_a_store_older_than_the_index_gets_it_filled_from_the_log_on_its_next_write(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    old = make_ledger(db_url)
    register(old)
    first = issue(old, "AK-1000")
    issue(old, "AK-2000")
    _drop_index(old)
    reopened = make_ledger(db_url)  # a process started after the upgrade

    with pytest.raises(
        DuplicateItem, match="looks like serial 'AK-1000' of item .*, issued already"
    ):
        issue(reopened, "\u0410\u041a-1000")
    issue(reopened, "AK-3000")

    assert [m.item_id for m in reopened.log_store.serials.by_serial("aklooo")] == [str(first)]
    assert reopened.log_store.rebuild_serials() == 3


def test_look_alikes_issued_before_the_normal_form_are_both_kept_and_a_third_is_refused(
    store_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(store_ledger)
    serials = store_ledger.log_store.serials
    with monkeypatch.context() as old_code:  # the store as the code before the index wrote it
        old_code.setattr(serials, "index", lambda cursor, issued: False)
        old_code.setattr(store_ledger._checks, "no_look_alike", lambda *args: None)
        first, second = issue(store_ledger, "AK-1000"), issue(store_ledger, "AK.1000")

    rebuilt = store_ledger.log_store.rebuild_serials()

    assert rebuilt == 2
    assert sorted(m.item_id for m in serials.by_serial("aklooo")) == sorted(
        [str(first), str(second)]
    )
    with pytest.raises(DuplicateItem, match="serial 'AK_1000' looks like serial 'AK-1000'"):
        issue(store_ledger, "AK_1000")


def test_an_issue_with_details_indexes_calibre_and_lot(store_ledger: Ledger) -> None:
    register(store_ledger)

    item = issue(
        store_ledger,
        "LOT-77",
        days_ago=1,
        category="ammunition_lot",
        details={"calibre": "7.62x39", "lot": "L-77"},
    )

    indexed = store_ledger.log_store.serials.of_item(str(item))
    assert indexed is not None
    assert (indexed.serial, indexed.calibre, indexed.lot) == ("LOT-77", "762x39", "l77")


def _drop_index(ledger: Ledger) -> None:
    store = ledger.log_store
    with store._locked_cursor() as cursor:
        if store.serials.sql.sqlite:
            cursor.execute(f"DROP TABLE {FTS_TABLE}")
        cursor.execute(f"DROP TABLE {store.serials.sql.table}")
    assert SERIALS_TABLE in store.serials.sql.table


def test_the_first_save_of_a_process_fills_the_index_with_the_entries_before_its_own(
    make_ledger: LedgerFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_ledger(db_url)
    register(old)
    first = issue(old, "AK-1000")
    _drop_index(old)
    reopened = make_ledger(db_url)
    monkeypatch.setattr(reopened._checks, "no_look_alike", lambda *args: None)  # as a bulk save

    issue(reopened, "AK-2000")  # the recorder creates the index and fills it, then adds this

    assert [m.item_id for m in reopened.log_store.serials.by_serial("aklooo")] == [str(first)]
    assert len(reopened.log_store.serials.by_serial("ak2ooo")) == 1


def test_an_index_created_in_a_transaction_that_rolled_back_is_created_again_on_the_next_write(
    store_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(store_ledger)  # a new store: no index yet; its first issue creates it
    monkeypatch.setattr(store_ledger._checks, "no_look_alike", lambda *args: None)  # a bulk save
    with pytest.raises(DuplicateItem, match="looks like serial 'AK-1000'"), store_ledger.batch():
        issue(store_ledger, "AK-1000")
        issue(store_ledger, "AK.1000")  # refused in the transaction that created the index

    issue(store_ledger, "AK-2000")  # were the index taken as there, "no such table" here

    assert [m.serial for m in store_ledger.log_store.serials.by_serial("ak2ooo")] == ["AK-2000"]


def test_another_thread_sees_the_index_ready_only_once_the_transaction_creating_it_commits(
    store_ledger: Ledger,
) -> None:
    store = store_ledger.log_store
    with store._locked_cursor() as cursor:
        store.serials.ensure(cursor)
        assert not store.serials.ready  # a read on another connection would find no table yet

    store.ensure_serials()

    assert store.serials.ready
    assert store.serials.by_serial("aklooo") == []


def test_the_trigram_index_is_said_to_serve_searches_only_once_its_transaction_commits(
    store_ledger: Ledger,
) -> None:
    store = store_ledger.log_store
    before = store.serials.trigram  # SQLite: FTS5 always; PostgreSQL: no pg_trgm index yet
    with pytest.raises(RuntimeError, match="rolled back"), store._locked_cursor() as cursor:
        store.serials.ensure(cursor)  # on PostgreSQL this creates the pg_trgm index...
        assert store.serials.trigram is before  # ...which no other thread may count on yet
        raise RuntimeError("rolled back")

    assert (store.serials.ready, store.serials.trigram) == (False, before)
    store.ensure_serials()
    assert (store.serials.ready, store.serials.trigram) == (True, True)


def test_an_import_row_names_its_item_by_a_look_alike_spelling_of_its_marking(
    store_ledger: Ledger,
) -> None:
    register(store_ledger)
    item = issue(store_ledger, "AK-1000")
    when = ago(store_ledger, days=1).isoformat()
    data = (
        "action,manufacturer,model,serial,to,occurred_at\n"
        f"transfer,MAKER,m-1,\u0410\u041a.1000,unit-2,{when}\n"
    ).encode()
    rows, problems = read_rows(data, kind="csv")

    outcome = import_rows(store_ledger, rows, actor=ADMIN, digest=file_digest(data))

    assert (problems, outcome.problems, outcome.stored) == ([], [], 1)
    assert store_ledger.item(item).holder == "unit-2"


def test_searches_have_a_trigram_index_on_either_store(store_ledger: Ledger) -> None:
    """SQLite: FTS5's trigram tokenizer; PostgreSQL: pg_trgm (created in schema public if the
    database has it and the role may; this machine's server has it)."""
    register(store_ledger)
    issue(store_ledger, "AK-1000")

    assert store_ledger.log_store.serials.trigram is True
