"""/tlog/ (api/routes/tiles.py) on SQLite and PostgreSQL: c2sp.org/tlog-tiles hash tiles are the
stored subtree hashes golang.org/x/mod/sumdb/tlog expects (a level-0 tile holds leaf hashes, a
level-1 tile the roots of 256-leaf subtrees), entry bundles the entries, full tiles never change,
and who may read what (docs/verification.md, section 13)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.integrity.merkle import leaf_hash
from ledger.store.tiles import Tile, parse_entry_bundle
from tests.programme import ADMIN, issue
from tests.reference import mth

LEVEL_1 = 260
"""Entries enough for a full level-0 tile and a first level-1 hash."""


def grow(ledger: Ledger, size: int, prefix: str = "T") -> None:
    n = 0
    while ledger.log_store.log_size() < size:
        issue(ledger, f"{prefix}-{n}", recipient="outsider" if n % 2 else "unit-1")
        n += 1


@pytest.fixture
def public(api_ledger: Ledger) -> Iterator[TestClient]:
    """A client with no token."""
    with TestClient(create_app(api_ledger), raise_server_exceptions=False) as test_client:
        yield test_client


def entries(ledger: Ledger, end: int) -> list[bytes]:
    return [r.entry for r in ledger.log_store.log_entries(0, end)]


def hashes(body: bytes) -> list[bytes]:
    return [body[i : i + 32] for i in range(0, len(body), 32)]


def test_hash_tiles_hold_the_leaf_hashes_and_subtree_roots_go_reads(
    api_ledger: Ledger, public: TestClient
) -> None:
    grow(api_ledger, LEVEL_1)
    size = api_ledger.log_store.log_size()
    leaves = entries(api_ledger, size)

    full = public.get("/tlog/tile/0/000")
    partial = public.get(f"/tlog/tile/0/001.p/{size - 256}")
    upper = public.get("/tlog/tile/1/000.p/1")

    assert [r.status_code for r in (full, partial, upper)] == [200, 200, 200]
    assert hashes(full.content) == [leaf_hash(e) for e in leaves[:256]]
    assert hashes(partial.content) == [leaf_hash(e) for e in leaves[256:size]]
    assert hashes(upper.content) == [mth(tuple(leaves[:256]))]
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert partial.headers["cache-control"] == "no-cache"


def test_a_narrower_partial_tile_is_the_start_of_the_wider_one(
    api_ledger: Ledger, public: TestClient
) -> None:
    """Go's TileHashReader asks for the partial tile of the checkpoint's size, which the log may
    have outgrown; the first W hashes never change, so any W up to what exists is served."""
    grow(api_ledger, 10)
    wide = public.get("/tlog/tile/0/000.p/10").content
    assert public.get("/tlog/tile/0/000.p/4").content == wide[: 4 * 32]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/tlog/tile/0/000", "tile/0/000 is beyond the log"),
        ("/tlog/tile/0/000.p/{over}", "tile/0/000.p/{over} is beyond the log"),
        ("/tlog/tile/0/001.p/1", "tile/0/001.p/1 is beyond the log"),
        ("/tlog/tile/1/000.p/1", "tile/1/000.p/1 is beyond the log"),
        ("/tlog/tile/0/x000/000", "the canonical path is 'tile/0/000'"),
        ("/tlog/tile/0/000.p/256", "a partial width is 1 to 255"),
        ("/tlog/tile/9/000", "the level is 0 to 7"),
    ],
)
def test_a_tile_beyond_the_log_or_a_bad_path_is_not_found(
    api_ledger: Ledger, public: TestClient, path: str, message: str
) -> None:
    grow(api_ledger, 10)
    over = api_ledger.log_store.log_size() + 1
    assert over < 256
    response = public.get(path.format(over=over))
    assert response.status_code == 404
    assert message.format(over=over) in response.json()["error"]["message"]


def test_the_checkpoint_is_the_latest_stored_one_and_signs_nothing_new(
    api_ledger: Ledger, public: TestClient
) -> None:
    assert public.get("/tlog/checkpoint").status_code == 404
    note = api_ledger.tlog.checkpoint()
    grow(api_ledger, api_ledger.log_store.log_size() + 3)

    response = public.get("/tlog/checkpoint")

    assert response.status_code == 200 and response.text == note
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-cache"
    assert api_ledger.log_store.latest_checkpoint() == (int(note.split("\n")[1]), note)


def test_an_entry_bundle_holds_the_entries_behind_their_lengths(
    api_ledger: Ledger, client: TestClient
) -> None:
    grow(api_ledger, 10)
    size = api_ledger.log_store.log_size()
    response = client.get(f"/tlog/tile/entries/000.p/{size}")
    assert response.status_code == 200
    assert parse_entry_bundle(response.content) == entries(api_ledger, size)
    assert client.get(f"/tlog/tile/entries/000.p/{size + 1}").status_code == 404


def test_an_entry_bundle_needs_a_token(api_ledger: Ledger, public: TestClient) -> None:
    grow(api_ledger, 10)
    response = public.get("/tlog/tile/entries/000.p/5")
    assert response.status_code == 401


def test_a_partner_may_not_read_a_bundle_holding_another_forces_entry(
    api_ledger: Ledger, public: TestClient
) -> None:
    grow(api_ledger, api_ledger.log_store.log_size() + 4)
    size = api_ledger.log_store.log_size()
    token, _ = api_ledger.grant_token(party="outsider", role="partner", actor=ADMIN)

    response = public.get(
        f"/tlog/tile/entries/000.p/{size}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert "entries this token may not read" in response.json()["error"]["message"]


def test_with_public_tiles_off_the_checkpoint_and_hash_tiles_need_a_token(
    api_ledger: Ledger, admin_token: str
) -> None:
    grow(api_ledger, 5)
    api_ledger.tlog.checkpoint()
    app = create_app(api_ledger, public_tiles=False)
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        assert anonymous.get("/tlog/checkpoint").status_code == 401
        assert anonymous.get("/tlog/tile/0/000.p/1").status_code == 401
        bearer = {"Authorization": f"Bearer {admin_token}"}
        assert anonymous.get("/tlog/checkpoint", headers=bearer).status_code == 200
        assert anonymous.get("/tlog/tile/0/000.p/1", headers=bearer).status_code == 200


def test_no_full_tile_changes_while_the_log_grows(api_ledger: Ledger, public: TestClient) -> None:
    grow(api_ledger, LEVEL_1)

    def full_tiles() -> dict[str, bytes]:
        size = api_ledger.log_store.log_size()
        tiles = [Tile(0, n) for n in range(size // 256)] + [Tile(1, 0, 1)]
        return {t.path(): public.get(f"/tlog/{t.path()}").content for t in tiles}

    before = full_tiles()
    grow(api_ledger, 2 * 256 + 4, prefix="U")
    after = full_tiles()

    assert len(after) == len(before) + 1
    assert {path: after[path] for path in before} == before


def test_tiles_read_while_another_thread_writes_never_change_once_full(
    api_ledger: Ledger, public: TestClient
) -> None:
    """A reader racing a writer: every full tile read is the same each time it is read, and every
    partial tile is the start of every later read of that tile."""
    seen: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def write() -> None:
        try:
            grow(api_ledger, 2 * 256 + 40, prefix="W")
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while writer.is_alive() or reads == 0:
        size = api_ledger.log_store.log_size()
        for n in range(size // 256 + 1):
            width = min(256, size - 256 * n)
            if width <= 0:
                continue
            path = f"/tlog/{Tile(0, n, width).path()}"
            body = public.get(path).content
            assert len(body) == 32 * width, path
            before = seen.get(n, b"")
            shorter, longer = sorted((before, body), key=len)
            assert longer.startswith(shorter), f"{path} changed"
            seen[n] = longer
            reads += 1
    writer.join()
    assert not errors, errors
    size = api_ledger.log_store.log_size()
    leaves = [leaf_hash(e) for e in entries(api_ledger, size)]
    assert (
        b"".join(seen[n] for n in sorted(seen)) == b"".join(leaves)[: sum(map(len, seen.values()))]
    )
    assert len(seen[0]) == 256 * 32 and reads > 3
