"""The log as c2sp.org/tlog-tiles: tile coordinates, their paths, entry bundles. No web code.

A tile is (level L, index N, width W), tile height 8: the hashes of the stored nodes
(8L, i) for i in [256N, 256N + W) of the Merkle tree (ledger/integrity/merkle.py keys a node
(level, index),
level 0 holding leaf hashes), concatenated. A level-0 tile holds leaf hashes; a full tile has
W = 256 and never changes, since its nodes are complete subtrees. This is
golang.org/x/mod/sumdb/tlog's `Tile{H: 8, L, N, W}` (hashes of level L * H), whose path drops the
`H` as the spec says.

Paths: N in groups of three digits, every group but the last prefixed with x
(1234067 -> x001/x234/067), a partial tile with `.p/W` (1 <= W < 256): `tile/0/x001/x234/067.p/8`.
An entry bundle `tile/entries/N[.p/W]` holds entries [256N, 256N + W), each as a big-endian
uint16 length then the entry's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.domain.errors import IntegrityFailure, NotFound
from ledger.integrity.merkle import Node
from ledger.store.log import LogRow

HEIGHT = 8
WIDTH = 1 << HEIGHT
"""Hashes (or entries) in a full tile."""
MAX_LEVEL = 7
"""Tiles at level 7 hold nodes of levels 56 up: enough for a tree of 2**63 leaves."""
MAX_ENTRY = 0xFFFF
ENTRIES = "entries"

_GROUP = re.compile(r"^x[0-9]{3}$")
_LAST = re.compile(r"^[0-9]{3}$")
_ASCII_DIGITS = re.compile(r"^[0-9]+$")
_WIDTH = re.compile(r"^[1-9][0-9]{0,2}$")
"""ASCII digits only: the regex digit class and str.isdigit also take "²", which int() refuses."""


@dataclass(frozen=True)
class Tile:
    level: int
    """0 to MAX_LEVEL for hash tiles; -1 for an entry bundle"""
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    @property
    def node_level(self) -> int:
        """The Merkle tree level of the hashes this tile holds."""
        return HEIGHT * self.level

    @property
    def start(self) -> int:
        """The first node (or entry) index it holds; it holds [start, start + width)."""
        return self.index * WIDTH

    @property
    def end(self) -> int:
        return self.start + self.width

    def path(self) -> str:
        level = ENTRIES if self.level < 0 else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(n: int) -> str:
    """The spec's N: groups of three digits, all but the last prefixed with x."""
    if n < 0:
        raise ValueError(f"tile index {n} is negative")
    groups = [f"{n % 1000:03d}"]
    while n >= 1000:
        n //= 1000
        groups.append(f"x{n % 1000:03d}")
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """A tile from `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`; NotFound for any other
    path, including a non-canonical spelling of a valid one (as Go's ParseTilePath)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise NotFound(f"no tile at {path!r}")
    level = _level(parts[1], path)
    groups, width = parts[2:], WIDTH
    if _ASCII_DIGITS.match(groups[-1]) and len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.match(groups[-1]) or int(groups[-1]) >= WIDTH:
            raise NotFound(f"no tile at {path!r}: a partial width is 1 to {WIDTH - 1}")
        width, groups = int(groups[-1]), [*groups[:-2], groups[-2].removesuffix(".p")]
    if not _LAST.match(groups[-1]) or not all(_GROUP.match(g) for g in groups[:-1]):
        raise NotFound(f"no tile at {path!r}")
    index = 0
    for group in groups:
        index = index * 1000 + int(group.removeprefix("x"))
    tile = Tile(level, index, width)
    if tile.path() != path:  # leading x000 groups
        raise NotFound(f"no tile at {path!r}: the canonical path is {tile.path()!r}")
    return tile


def _level(text: str, path: str) -> int:
    if text == ENTRIES:
        return -1
    if len(text) == 1 and _ASCII_DIGITS.match(text) and int(text) <= MAX_LEVEL:
        return int(text)
    raise NotFound(f"no tile at {path!r}: the level is 0 to {MAX_LEVEL} or {ENTRIES!r}")


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes (level >= 0) or entries (level -1) tile (level, index) holds in a tree of
    `size` leaves: 0 to 256."""
    count = size >> (HEIGHT * max(level, 0))  # complete nodes at that level
    return max(0, min(WIDTH, count - index * WIDTH))


def tile_bytes(tile: Tile, hashes: Sequence[bytes]) -> bytes:
    """A hash tile's body: its `width` hashes, in index order."""
    if len(hashes) != tile.width:
        raise NotFound(f"{tile.path()} is beyond the log")
    return b"".join(hashes)


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """The spec's entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise IntegrityFailure(
                "an entry is too long for an entry bundle",
                expected=f"at most {MAX_ENTRY} bytes",
                got=f"{len(entry)} bytes",
            )
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; IntegrityFailure if it is cut short."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise IntegrityFailure("the entry bundle ends inside a length", position=at)
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise IntegrityFailure("the entry bundle ends inside an entry", position=at)
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries


class TileStore(Protocol):
    """What serving tiles reads: ledger/store/log.py's LogStore."""

    def nodes_completed(self, ranges: Sequence[tuple[int, int, int]]) -> list[Node]: ...

    def log_entries(self, start: int, end: int) -> list[LogRow]: ...

    def latest_checkpoint(self) -> tuple[int, str] | None: ...


def read_hash_tile(store: TileStore, tile: Tile) -> bytes:
    """A hash tile's body, from one query for its stored nodes; NotFound if the tree has fewer
    than `width` complete nodes there (beyond the log, or a full tile not complete yet)."""
    if tile.level < 0:
        raise NotFound(f"{tile.path()} is an entry bundle, not a hash tile")
    nodes = store.nodes_completed([(tile.node_level, tile.start, tile.end)])
    return tile_bytes(tile, [digest for _, _, digest in sorted(nodes)])


def read_entry_rows(store: TileStore, tile: Tile) -> list[LogRow]:
    """The log rows an entry bundle holds, from one query; NotFound if fewer than `width` exist."""
    if tile.level >= 0:
        raise NotFound(f"{tile.path()} is a hash tile, not an entry bundle")
    rows = store.log_entries(tile.start, tile.end)
    if len(rows) != tile.width:
        raise NotFound(f"{tile.path()} is beyond the log")
    return rows


def latest_checkpoint(store: TileStore) -> str:
    """The latest signed checkpoint as stored (with any cosignatures), not a newly signed one."""
    latest = store.latest_checkpoint()
    if latest is None:
        raise NotFound("the log has no signed checkpoint yet")
    return latest[1]
