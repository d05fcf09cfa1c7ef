"""ledger/store/tiles.py against golang.org/x/mod/sumdb/tlog's tile.go: its path examples (without
the
height, which c2sp.org/tlog-tiles fixes at 8 and leaves out) and its tile widths."""

from __future__ import annotations

import pytest

from ledger.domain.errors import IntegrityFailure, NotFound
from ledger.store.tiles import (
    Tile,
    encode_index,
    entry_bundle,
    parse_entry_bundle,
    parse_tile_path,
    tile_width,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "000"), (67, "067"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_a_tile_index_is_written_in_groups_of_three_digits_as_go_does(n: int, text: str) -> None:
    assert encode_index(n) == text
    assert parse_tile_path(f"tile/0/{text}") == Tile(0, n)


def test_the_spec_examples_parse_to_their_tiles_and_back() -> None:
    # tile.go: "tile/3/4/x001/x234/067.p/1" is Tile{H: 3, L: 4, N: 1234067, W: 1}
    assert parse_tile_path("tile/4/x001/x234/067.p/1") == Tile(4, 1234067, 1)
    assert parse_tile_path("tile/entries/x001/x234/067") == Tile(-1, 1234067)
    assert Tile(-1, 5, 7).path() == "tile/entries/005.p/7"
    assert Tile(1, 2).path() == "tile/1/002"


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/x000/001",
        "tile/0/001.p/256",
        "tile/0/001.p/0",
        "tile/0/001.p/07",
        "tile/8/000",
        "tile/data/000",
        "tile/0/x001",
        "tile/0/001/002",
        "tiles/0/000",
        "tile/0/000.p/",
    ],
)
def test_a_path_that_go_would_not_write_is_not_found(path: str) -> None:
    with pytest.raises(NotFound, match="no tile at"):
        parse_tile_path(path)


def test_a_tile_holds_the_complete_nodes_of_its_level_that_the_tree_has() -> None:
    assert tile_width(0, 0, 5) == 5
    assert tile_width(0, 0, 300) == 256
    assert tile_width(0, 1, 300) == 44
    assert tile_width(1, 0, 300) == 1  # one complete node of level 8: leaves 0..255
    assert tile_width(1, 0, 255) == 0
    assert tile_width(0, 2, 300) == 0
    assert tile_width(-1, 1, 300) == 44  # entry bundles count entries


def test_an_entry_bundle_is_each_entry_behind_its_big_endian_length() -> None:
    data = entry_bundle([b"ab", b"", b"x" * 300])
    assert data[:4] == b"\x00\x02ab" and data[4:6] == b"\x00\x00" and data[6:8] == b"\x01\x2c"
    assert parse_entry_bundle(data) == [b"ab", b"", b"x" * 300]


def test_an_entry_too_long_for_a_bundle_is_refused() -> None:
    with pytest.raises(IntegrityFailure, match="too long for an entry bundle"):
        entry_bundle([b"x" * 65536])


def test_a_bundle_cut_short_is_refused() -> None:
    with pytest.raises(IntegrityFailure, match="ends inside an entry"):
        parse_entry_bundle(b"\x00\x05abc")


@pytest.mark.parametrize("path", ["tile/²/000", "tile/0/00²", "tile/0/x00²/000", "tile/0/000.p/²"])
def test_a_path_with_digits_other_than_ascii_is_no_tile(path: str) -> None:
    # the dashboard fuzz found `tile/²/...` answered 500: "²".isdigit() is true, int("²") fails
    with pytest.raises(NotFound, match="no tile at"):
        parse_tile_path(path)
