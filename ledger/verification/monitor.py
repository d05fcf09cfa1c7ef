"""A monitor of a log one does not operate, through its c2sp.org/tlog-tiles API
(ledger/store/tiles.py,
docs/monitoring.md): `custody monitor URL`.

Each step fetches the checkpoint, checks its signature with the log key, recomputes its root from
the public hash tiles, and checks it against the checkpoint kept in the client state folder
(ledger/verification/client_state.py) with a consistency proof computed from the tiles of the new
tree. The
checks of `ClientState.accept_checkpoint` apply: a rollback, a fork (two roots of one size) or a
tree that does not extend the kept one is refused with ProofError after the evidence (both signed
notes and the proof) is written to a misbehaviour file that `custody verify-misbehaviour` checks
offline. The tiles need no trust: a consistency proof from them either leads to both signed roots
or it does not.

With a witness policy (C2SP tlog-policy, ledger/witness/witness_policy.py), each checkpoint must
also carry
cosignatures meeting its quorum; one that does not is refused (ProofError, no misbehaviour file:
too few cosignatures is no proof against the log).

With entries readable (`entries=True`, a token that may read them all), the entries the new
checkpoint adds are read from entry bundles and re-hashed against the level-0 tiles: the monitor
then knows the bytes behind every leaf it vouches for.

Reading goes through `fetch(path) -> bytes`, a path under the log's prefix (`checkpoint`,
`tile/0/000.p/5`), so this module has no web code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.domain.errors import IntegrityFailure
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.merkle import Key, leaf_hash, node_hash
from ledger.integrity.signing import Verifier
from ledger.store.tiles import HEIGHT, WIDTH, Tile, parse_entry_bundle, tile_width
from ledger.verification.client_state import ClientState
from ledger.witness.witness_policy import WitnessPolicy, check_quorum

Fetch = Callable[[str], bytes]
"""The bytes at a path under the log's tlog-tiles prefix; CustodyError if there are none."""


class TileNodes:
    """merkle.NodeReader over the hash tiles of a tree of `size` leaves, each tile fetched once.
    A node of a level between two tile levels is folded from the 2**k hashes below it."""

    def __init__(self, fetch: Fetch, size: int) -> None:
        self._fetch, self.size = fetch, size
        self._tiles: dict[tuple[int, int], bytes] = {}

    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        return {key: self._node(*key) for key in keys}

    def _node(self, level: int, index: int) -> bytes:
        tile_level, height = divmod(level, HEIGHT)
        first = index << height  # the first hash of the tile level below it
        data = self._tile(tile_level, first // WIDTH)
        start = first % WIDTH
        hashes = [data[32 * i : 32 * i + 32] for i in range(start, start + (1 << height))]
        if any(len(h) != merkle.HASH_SIZE for h in hashes):
            raise IntegrityFailure(f"the tiles hold no node (level {level}, index {index})")
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def _tile(self, level: int, index: int) -> bytes:
        if (level, index) not in self._tiles:
            tile = Tile(level, index, tile_width(level, index, self.size))
            if tile.width == 0:
                raise IntegrityFailure(f"a tree of {self.size} leaves has no {tile.path()}")
            data = self._fetch(tile.path())
            if len(data) != 32 * tile.width:
                raise IntegrityFailure(
                    f"{tile.path()} has the wrong length",
                    expected=f"{32 * tile.width} bytes",
                    got=f"{len(data)} bytes",
                )
            self._tiles[(level, index)] = data
        return self._tiles[(level, index)]


@dataclass(frozen=True)
class Step:
    checkpoint: Checkpoint
    kept: Checkpoint | None
    """the checkpoint kept before this step, None the first time"""
    cosigners: tuple[str, ...] = ()
    """the policy's witnesses that cosigned it, when a policy was given"""
    rehashed: int = 0
    """entries read from entry bundles and re-hashed against the tiles"""

    @property
    def new(self) -> bool:
        return self.kept is None or self.kept.size != self.checkpoint.size

    def line(self) -> str:
        c = self.checkpoint
        head = f"{c.origin} size {c.size} root {c.root_hash.hex()}"
        if self.cosigners:
            head += f" cosigned by {', '.join(self.cosigners)}"
        if self.rehashed:
            head += f" ({self.rehashed} new entries re-hashed)"
        if self.kept is None:
            return f"{head}: first seen, trusted on first use (no checkpoint was kept)"
        if not self.new:
            return f"{head}: unchanged"
        return f"{head}: consistent with size {self.kept.size}"


def monitor_step(
    state: ClientState,
    key: Verifier,
    fetch: Fetch,
    *,
    now: datetime,
    policy: WitnessPolicy | None = None,
    entries: bool = False,
) -> Step:
    """Fetch the checkpoint, check its signature (and the policy's quorum of cosignatures), its
    root against its tiles, and its consistency with the kept checkpoint; keep it."""
    note = fetch("checkpoint").decode("utf-8")
    kept_note = state.checkpoint(key.name)
    kept = None if kept_note is None else verify_checkpoint(kept_note, key)
    new = verify_checkpoint(note, key)
    cosigned = [] if policy is None else check_quorum(policy, note, new)
    tiles = TileNodes(fetch, new.size)
    if new.size:
        root = merkle.root(new.size, tiles)
        if root != new.root_hash:
            raise IntegrityFailure(
                f"the tiles of {key.name} do not hash to its checkpoint's root",
                position=new.size,
                expected=new.root_hash.hex(),
                got=root.hex(),
            )

    def consistency(m: int, n: int) -> list[bytes]:
        return merkle.consistency_proof(m, n, TileNodes(fetch, n))

    start = min(kept.size, new.size) if kept is not None else 0
    rehashed = rehash_entries(fetch, tiles, start, new.size) if entries else 0  # before keeping it
    accepted = state.accept_checkpoint(note, key, consistency, now=now)
    return Step(accepted, kept, tuple(c.witness for c in cosigned), rehashed)


def rehash_entries(fetch: Fetch, tiles: TileNodes, start: int, end: int) -> int:
    """Read entries [start, end) from their bundles and check each one's leaf hash against the
    level-0 tiles of the tree of `tiles.size`; the number checked."""
    for n in range(start // WIDTH, (end + WIDTH - 1) // WIDTH):
        bundle = Tile(-1, n, tile_width(-1, n, end))
        found = parse_entry_bundle(fetch(bundle.path()))
        if len(found) != bundle.width:
            raise IntegrityFailure(
                f"{bundle.path()} holds another number of entries",
                expected=str(bundle.width),
                got=str(len(found)),
            )
        leaves = tiles.read_nodes([(0, bundle.start + i) for i in range(bundle.width)])
        for i, entry in enumerate(found):
            if leaf_hash(entry) != leaves[(0, bundle.start + i)]:
                raise IntegrityFailure(
                    f"entry {bundle.start + i} does not hash to its leaf in the tiles",
                    position=bundle.start + i,
                )
    return max(0, end - start)
