"""The public, append-only transparency log of everything the registry and the bodies sign.

Each event is one entry (RFC 8785 JSON) appended in the transaction of the change it records;
the tree is hashed as RFC 9162 §2.1, published as C2SP tlog-tiles, and signed as C2SP
checkpoints (Ed25519 signed notes) by the log's own key. See ``docs/transparency-log.md``.

Appends update the single ``tlog_state`` row first: on PostgreSQL its row lock serialises them
until commit, so indices are gap-free and unique; SQLite serialises writers anyway. A full tile
(256 hashes, plus its inner levels) is stored when its last entry is appended, so any complete
subtree's hash is one stored lookup and an inclusion proof reads at most one tile per 8 levels.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, bindparam, delete, exists, func, insert, literal_column, select, union_all, update
from sqlalchemy.orm import Session

from verifier import _tlog as merkle

from .models import Certificate, TlogCheckpoint, TlogEdge, TlogEntry, TlogState, TlogTile, utcnow
from .worker import task

_log = logging.getLogger("registry.tlog")

WIDTH = merkle.TILE_WIDTH
HEIGHT = merkle.TILE_HEIGHT
DEFAULT_INTERVAL = 5.0


def origin_for(public_url: str) -> str:
    """The checkpoint origin line and note key name: the public URL without scheme, plus ``/log``."""
    parts = urlsplit(public_url)
    return f"{parts.netloc}{parts.path.rstrip('/')}/log"


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sha256(data) -> str:
    if isinstance(data, dict):
        data = merkle.canonical_json(data)
    elif isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def build_event(kind: str, *, certificate=None, body_id: str | None = None, key=None, document=None,
                details: dict | None = None, now: datetime | None = None) -> dict:
    """The event an entry records: what happened, when, to which certificate, body or key, and the
    SHA-256 of the signed credential or document it concerns."""
    event: dict = {"kind": kind, "time": _time(now or utcnow())}
    if certificate is not None:
        c = certificate
        if kind == "certificate.revoked" and (details or {}).get("supersededBy"):
            event.update(kind="certificate.superseded", supersededBy=details["supersededBy"])
        event.update(certificateId=c.id, certificateNumber=c.number, body=c.body_id, type=c.type,
                     manufacturer=c.manufacturer_id, gtin=c.gtin, sha256=_sha256(c.credential))
        if kind == "certificate.issued" and c.supersedes_id:
            event["supersedes"] = c.supersedes_id
    if key is not None:
        event.update(kid=key.kid, owner=key.owner, body=key.body_id, sha256=_sha256(key.public_jwk))
    if body_id is not None:
        event["body"] = body_id
    if document is not None:
        event["sha256"] = _sha256(document)
    return {k: v for k, v in event.items() if v is not None}


_STATE = TlogState.__table__
_BUMP = _STATE.update().where(_STATE.c.id == 1).values(size=_STATE.c.size + 1).returning(_STATE.c.size)
_APPEND = TlogEntry.__table__.insert()
_SIZE = select(_STATE.c.size).where(_STATE.c.id == 1)


def append(session: Session, kind: str, *, certificate=None, body_id: str | None = None, key=None,
           document=None, details: dict | None = None, now: datetime | None = None) -> int:
    """Append one event in the session's transaction; returns its index."""
    event = build_event(kind, certificate=certificate, body_id=body_id, key=key, document=document,
                        details=details, now=now)
    entry = merkle.canonical_json(event)
    conn = session.connection()  # Core: no ORM statement handling, and no flush needed first
    size = conn.execute(_BUMP).scalar_one()
    index = size - 1
    conn.execute(_APPEND, {"idx": index, "leaf_hash": merkle.leaf_hash(entry), "entry": entry})
    if size % WIDTH == 0:
        _seal_tiles(session, size)
    if event["kind"] == "certificate.issued":
        # The answer to this issuance needs the index: spare it a look-up. A certificate id is new,
        # so a rolled-back issuance's note is never asked for.
        session.info.setdefault("tlog.issued", {})[event["certificateId"]] = (index, entry)
        session.info.setdefault("tlog.noted", {})[index] = entry
    return index


def tile_blob(base: list[bytes]) -> tuple[bytes, bytes]:
    """A full tile's stored form: its 256 hashes and every inner level up to its root; and the root."""
    levels = [base]
    while len(levels[-1]) > 1:
        prev = levels[-1]
        levels.append([merkle.node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev), 2)])
    return b"".join(b"".join(level) for level in levels), levels[-1][0]


def _seal_tiles(session: Session, size: int) -> None:
    """Store the tiles that the entry making the tree ``size`` long has just filled."""
    level, count = 0, size
    while count % WIDTH == 0 and count:
        t = count // WIDTH - 1
        if level == 0:
            base = list(session.scalars(select(TlogEntry.leaf_hash).where(
                TlogEntry.idx >= t * WIDTH, TlogEntry.idx < (t + 1) * WIDTH).order_by(TlogEntry.idx)))
        else:
            base = list(session.scalars(select(TlogTile.root).where(
                TlogTile.level == level - 1, TlogTile.idx >= t * WIDTH, TlogTile.idx < (t + 1) * WIDTH)
                .order_by(TlogTile.idx)))
        if len(base) != WIDTH:
            raise RuntimeError(f"log tile {level}/{t} has {len(base)} of {WIDTH} hashes")
        blob, root = tile_blob(base)
        session.execute(insert(TlogTile).values(level=level, idx=t, hashes=blob, root=root))
        level, count = level + 1, t + 1


_ENTRY_COLUMNS = "tlog_entries (idx, leaf_hash, entry)"
# Migration 0007 builds the log from history before 0012 drops these columns from its entries.
_LEGACY_COLUMNS = "tlog_entries (idx, leaf_hash, entry, kind, certificate_id)"


def bulk_append(conn, events: list[dict], *, batch: int = 20_000, legacy: bool = False) -> int:
    """Append many events at once through a Core connection (building the log for existing data);
    returns the new size. The caller holds the transaction."""
    size = conn.execute(select(TlogState.size).where(TlogState.id == 1)).scalar_one()
    pending: dict[int, list[bytes]] = {}
    pending_level0 = list(conn.execute(select(TlogEntry.leaf_hash).where(
        TlogEntry.idx >= size - size % WIDTH).order_by(TlogEntry.idx)).scalars()) if size % WIDTH else []
    write = _entry_writer(conn, _LEGACY_COLUMNS if legacy else _ENTRY_COLUMNS)
    canonical, sha256 = merkle.canonical_json, hashlib.sha256
    tiles: list[tuple] = []  # full tiles, written with each batch of entries in one statement
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        entries = list(map(canonical, chunk))
        leaves = [sha256(b"\0" + e).digest() for e in entries]
        rows = [(size + i, leaf, entry, event["kind"], event.get("certificateId")) if legacy else (size + i, leaf, entry)
                for i, (leaf, entry, event) in enumerate(zip(leaves, entries, chunk))]
        # Whole tiles straight from this batch's leaves; the partial one waits for more.
        for i in range(len(leaves)):
            pending_level0.append(leaves[i])
            if len(pending_level0) == WIDTH:
                _bulk_seal(conn, pending, tiles, 0, (size + i + 1) // WIDTH - 1, pending_level0)
                pending_level0 = []
        size += len(chunk)
        write(rows)
        if tiles:
            conn.execute(insert(TlogTile), [{"level": lv, "idx": t, "hashes": b, "root": r} for lv, t, b, r in tiles])
            tiles = []
    conn.execute(update(TlogState).where(TlogState.id == 1).values(size=size))
    return size


def _entry_writer(conn, columns: str):
    """How rows reach ``tlog_entries``: COPY on PostgreSQL with psycopg (one stream, no statement
    per row), else the driver's executemany (the ORM's per-row type processing costs more than
    the hashing)."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw = conn.connection.driver_connection

        def copy(rows):
            with raw.cursor() as cur, cur.copy(f"COPY {columns} FROM STDIN") as out:
                for row in rows:
                    out.write_row(row)
        return copy
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {columns} VALUES ({', '.join([mark] * (columns.count(',') + 1))})"
    return lambda rows: conn.exec_driver_sql(sql, rows)


def append_many(session: Session, events: list[dict]) -> list[int]:
    """Append ``events`` (from :func:`build_event`) in order in the session's transaction, as
    :func:`append` would one by one, with one counter update; returns their indices."""
    if not events:
        return []
    conn = session.connection()
    size = conn.execute(_STATE.update().where(_STATE.c.id == 1).values(size=_STATE.c.size + len(events))
                        .returning(_STATE.c.size)).scalar_one()
    first = size - len(events)
    issued = session.info.setdefault("tlog.issued", {})
    noted = session.info.setdefault("tlog.noted", {})
    rows = []
    for index, event in enumerate(events, first):
        entry = merkle.canonical_json(event)
        rows.append({"idx": index, "leaf_hash": merkle.leaf_hash(entry), "entry": entry})
        if event["kind"] == "certificate.issued":
            issued[event["certificateId"]] = (index, entry)
            noted[index] = entry
    conn.execute(_APPEND, rows)
    for filled in range(first - first % WIDTH + WIDTH, size + 1, WIDTH):
        _seal_tiles(session, filled)
    return list(range(first, size))


def _bulk_seal(conn, pending: dict[int, list[bytes]], out: list, level: int, t: int, base: list[bytes]) -> None:
    blob, root = tile_blob(base)
    out.append((level, t, blob, root))
    above = pending.get(level + 1)
    if above is None:
        # Tiles of this level sealed before this call are stored (this call's are still in ``out``).
        start = t - t % WIDTH
        above = pending[level + 1] = list(conn.execute(select(TlogTile.root).where(
            TlogTile.level == level, TlogTile.idx >= start, TlogTile.idx < t).order_by(TlogTile.idx)).scalars())
    above.append(root)
    if len(above) == WIDTH:
        pending[level + 1] = []
        _bulk_seal(conn, pending, out, level + 1, t // WIDTH, above)


# --------------------------------------------------------------------------------------------
# Reading the tree


# Built once: these run for every proof. Core columns, not the ORM's: a new process's first
# proof would otherwise configure every mapper (~80 ms) before it could compile.
_TILES, _ENTRIES, _EDGES = TlogTile.__table__.c, TlogEntry.__table__.c, TlogEdge.__table__.c
_FULL_TILE = select(_TILES.hashes).where(_TILES.level == bindparam("level"), _TILES.idx == bindparam("t"))
_LEAVES = (select(_ENTRIES.leaf_hash).where(_ENTRIES.idx >= bindparam("lo"), _ENTRIES.idx < bindparam("hi"))
           .order_by(_ENTRIES.idx))
_ROOTS = (select(_TILES.root).where(_TILES.level == bindparam("level"), _TILES.idx >= bindparam("lo"),
                                    _TILES.idx < bindparam("hi")).order_by(_TILES.idx))
_READS: dict[tuple, object] = {}  # one statement per shape of a proof's reads


def _int(n: int):
    return literal_column(str(int(n)), BigInteger)


def _reads(full: int, partial: tuple[int, ...]):
    """One statement reading ``full`` stored tiles and, for the partial tiles at the levels in
    ``partial``, the stored edge of the tree's size or, when there is none, their hashes: rows
    ``(level, idx, data, kind)``, kind 0 for a tile, 1 for a hash, 2 for the edge."""
    stmt = _READS.get((full, partial))
    if stmt is None:
        parts = [select(_TILES.level, _TILES.idx, _TILES.hashes, _int(0)).where(
            _TILES.level == bindparam(f"fl{n}"), _TILES.idx == bindparam(f"ft{n}")) for n in range(full)]
        if partial:
            parts.append(select(_int(-1), _EDGES.size, _EDGES.hashes, _int(2)).where(_EDGES.size == bindparam("es")))
            no_edge = ~exists().where(_EDGES.size == bindparam("es"))
        for level in partial:
            if level == 0:
                parts.append(select(_int(0), _ENTRIES.idx, _ENTRIES.leaf_hash, _int(1)).where(
                    _ENTRIES.idx >= bindparam("lo0"), _ENTRIES.idx < bindparam("hi0"), no_edge))
            else:
                parts.append(select(_int(level), _TILES.idx, _TILES.root, _int(1)).where(
                    _TILES.level == level - 1, _TILES.idx >= bindparam(f"lo{level}"),
                    _TILES.idx < bindparam(f"hi{level}"), no_edge))
        stmt = _READS[(full, partial)] = parts[0] if len(parts) == 1 else union_all(*parts)
    return stmt


def edge_blob(tree: Tree) -> bytes:
    """The stored form of a tree's right edge: for each level with a partial tile, the level (1
    byte), its width (2 bytes) and its hashes followed by every complete inner level."""
    out = []
    level = 0
    while tree.size >> (HEIGHT * level):
        t = (tree.size >> (HEIGHT * level)) >> HEIGHT
        width = tree.width(level, t)
        if 0 < width < WIDTH:
            levels = [tree.base(level, t, width)]
            while len(levels[-1]) > 1:
                prev = levels[-1]
                levels.append([merkle.node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
            out.append(bytes([level]) + width.to_bytes(2, "big") + b"".join(b"".join(x) for x in levels))
        level += 1
    return b"".join(out)


def _edge_parts(blob: bytes):
    """``(level, width, hashes)`` of each partial tile in a stored edge."""
    pos = 0
    while pos < len(blob):
        level, width = blob[pos], int.from_bytes(blob[pos + 1:pos + 3], "big")
        count, w = 0, width
        while w:
            count, w = count + w, w >> 1
        yield level, width, blob[pos + 3:pos + 3 + 32 * count]
        pos += 3 + 32 * count


class Tree:
    """The tree of the first ``size`` entries, read through ``conn`` (a Session or Connection).

    Full tiles are immutable once committed, so they may come from a shared ``cache``.
    """

    def __init__(self, conn, size: int, cache: _TileCache | None = None, edge: dict | None = None):
        self.conn, self.size = conn, size
        self.cache = cache if cache is not None else _TileCache()
        # Hashes of tiles not yet full. Entries never change, so a prefix read once stays true and
        # a process may share it (``edge``) to read only what was appended since.
        self._partial: dict[tuple[int, int], list[bytes]] = {} if edge is None else edge

    def _full(self, level: int, t: int) -> bytes:
        blob = self.cache.get((level, t))
        if blob is None:
            blob = self.conn.execute(_FULL_TILE, {"level": level, "t": t}).scalar_one_or_none()
            if blob is None:
                raise LookupError(f"log tile {level}/{t} is missing")
            self.cache.put((level, t), blob)
        return blob

    def width(self, level: int, t: int) -> int:
        """How many hashes tile ``level``/``t`` has in this tree (0 when it has none)."""
        return max(0, min(WIDTH, (self.size >> (HEIGHT * level)) - t * WIDTH))

    def prefetch(self, *indices: int) -> None:
        """Read in one query what proofs about leaves ``indices`` need and no cache holds: the full
        tiles on their paths and the right edge (the partial tile of every level, which every
        proof's right-hand subtrees come from). A cold proof is then one round trip, not eight."""
        full, partial, params = [], [], {}
        level = 0
        while self.size >> (HEIGHT * level):
            for index in indices:
                t = index >> (HEIGHT * (level + 1))
                if self.width(level, t) == WIDTH and (level, t) not in full and self.cache.get((level, t)) is None:
                    full.append((level, t))
            t = (self.size >> (HEIGHT * level)) >> HEIGHT
            width = self.width(level, t)
            have = len(self._partial.get((level, t)) or ())
            if have < width < WIDTH and self._stored_edge(level, t, width) is None:
                partial.append((level, have))
                params[f"lo{level}"], params[f"hi{level}"] = t * WIDTH + have, t * WIDTH + width
            level += 1
        if not full and not partial:
            return
        for n, (level, t) in enumerate(full):
            params[f"fl{n}"], params[f"ft{n}"] = level, t
        if partial:
            params["es"] = self.size
        got: dict[int, list] = {level: [] for level, _ in partial}
        for level, idx, data, kind in self.conn.execute(_reads(len(full), tuple(lv for lv, _ in partial)), params):
            if kind == 0:
                self.cache.put((level, idx), data)
            elif kind == 1:
                got[level].append((idx, data))
            else:  # the stored edge: no partial tile's hashes came with it
                for lv, width, hashes in _edge_parts(data):
                    self._store_partial(("edge", lv, (self.size >> (HEIGHT * lv)) >> HEIGHT), (width, hashes))
                partial = []
        for level, have in partial:
            t = (self.size >> (HEIGHT * level)) >> HEIGHT
            rows = sorted(got[level])
            known = self._partial.get((level, t)) or []
            # Stored only when whole and still adjoining (another thread may have read it too);
            # otherwise base() reads it, and says what is missing.
            if len(rows) == params[f"hi{level}"] - params[f"lo{level}"] and len(known) == have:
                self._store_partial((level, t), known + [h for _, h in rows])

    def _store_partial(self, key: tuple, value) -> None:
        if len(self._partial) > 4096:
            self._partial.clear()
        self._partial[key] = value

    def _stored_edge(self, level: int, t: int, width: int) -> bytes | None:
        """A stored edge's hashes of partial tile ``level``/``t`` when it has at least ``width``."""
        hit = self._partial.get(("edge", level, t))
        return hit[1] if hit is not None and hit[0] >= width else None

    def base(self, level: int, t: int, width: int) -> list[bytes]:
        """The first ``width`` hashes of tile ``level``/``t``."""
        if self.width(level, t) == WIDTH:
            blob = self._full(level, t)
            return [blob[i * 32:(i + 1) * 32] for i in range(width)]
        hit = self._partial.get((level, t)) or []
        if len(hit) < width and (stored := self._stored_edge(level, t, width)) is not None:
            return [stored[i * 32:(i + 1) * 32] for i in range(width)]
        if len(hit) < width:
            # The whole partial tile at once: the next subtree asked for is usually further right.
            lo = t * WIDTH + len(hit)
            hi = t * WIDTH + max(width, self.width(level, t))
            if level == 0:
                more = list(self.conn.execute(_LEAVES, {"lo": lo, "hi": hi}).scalars())
            else:
                more = list(self.conn.execute(_ROOTS, {"level": level - 1, "lo": lo, "hi": hi}).scalars())
            if len(more) < hi - lo:
                raise LookupError(f"log tile {level}/{t} has {len(hit) + len(more)} of {width} hashes")
            hit = hit + more
            self._store_partial((level, t), hit)
        return hit[:width]

    def node(self, height: int, index: int) -> bytes:
        """The hash of the complete subtree of ``2**height`` leaves starting at ``index << height``."""
        level, sub = divmod(height, HEIGHT)
        first = index << sub  # the first covered hash at the tile level
        t = first >> HEIGHT
        if self.width(level, t) == WIDTH:
            blob = self._full(level, t)
            pos = (2 * WIDTH - (2 * WIDTH >> sub)) + ((first - t * WIDTH) >> sub)
            return blob[pos * 32:(pos + 1) * 32]
        key = ("node", height, index)  # a complete subtree's hash never changes: keep it with the edge
        hit = self._partial.get(key)
        if hit is None:
            lo = first - t * WIDTH
            edge = self._partial.get(("edge", level, t))
            if edge is not None and edge[0] >= lo + (1 << sub):  # stored with its inner levels: no hashing
                pos = sum(edge[0] >> i for i in range(sub)) + (lo >> sub)
                return edge[1][pos * 32:(pos + 1) * 32]
            hit = self._partial[key] = merkle.root_of(self.base(level, t, lo + (1 << sub))[lo:])
        return hit

    def mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo // n)
        # Not a complete subtree: one that reaches the tree's right edge. Every proof against this
        # size needs the same few of them, and leaves never change, so their hashes are kept.
        key = ("mth", lo, hi)
        hit = self._partial.get(key)
        if hit is None:
            k = 1 << ((n - 1).bit_length() - 1)
            hit = merkle.node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
            self._store_partial(key, hit)
        return hit

    def root(self) -> bytes:
        if not self.size:
            return merkle.EMPTY_ROOT
        self.prefetch()
        return self.mth(0, self.size)

    def inclusion(self, index: int) -> list[bytes]:
        if 0 <= index < self.size:
            self.prefetch(index)
        return merkle.inclusion_path(index, self.size, self.mth)

    def consistency(self, first: int) -> list[bytes]:
        if 0 < first < self.size:
            self.prefetch(first - 1)
        return merkle.consistency_path(first, self.size, self.mth)


class _TileCache:
    def __init__(self, limit: int = 2048):
        self.limit, self.lock, self.data = limit, threading.Lock(), OrderedDict()

    def get(self, key):
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.limit:
                self.data.popitem(last=False)


class _State:
    """What one process keeps: the latest checkpoint it signed or read, full tiles, indices."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest: merkle.Checkpoint | None = None
        self.key = None
        self.stored_checked = self.stored_at = float("-inf")  # monotonic times
        self.stored_size = -1
        self.signed_at = 0.0  # monotonic time the latest was signed (or read with its age)
        self.checked_at = 0.0
        self.tiles = _TileCache()
        self.indices = _TileCache(100_000)  # certificate id → index of its issuance entry
        self.claims = _TileCache(10_000)  # (index, size) → inclusion proof
        self.recent = _TileCache(10_000)  # index → (monotonic time, the claim last answered for it)
        self.edge: dict = {}  # hashes of the tiles not yet full, as far as read


def _state(app) -> _State:
    st = app.extensions.get("registry.tlog")
    if st is None:
        st = app.extensions.setdefault("registry.tlog", _State())
    return st


def size(conn) -> int:
    """The log's size as committed (or as this transaction has it)."""
    return conn.execute(_SIZE).scalar_one()


def tree(conn, at: int | None = None, *, app=None) -> Tree:
    from flask import current_app

    app = app or current_app._get_current_object()
    st = _state(app)
    return Tree(conn, size(conn) if at is None else at, st.tiles, st.edge)


# --------------------------------------------------------------------------------------------
# Checkpoints


def _interval(app) -> float:
    return float(app.config.get("TLOG_CHECKPOINT_INTERVAL", DEFAULT_INTERVAL))


def verifier_key(session: Session, *, app=None) -> str:
    """The log's note verifier key ``<origin>+<key id>+<base64 key>``; creates the key on first use."""
    from flask import current_app

    app = app or current_app._get_current_object()
    key = _log_key(session, app)
    return merkle.verifier_key(origin_for(app.config["PUBLIC_URL"]), _raw_public(key))


def _log_key(session: Session, app):
    """The log key; when it has to be made, it is committed at once so that every process shares it."""
    st = _state(app)
    if st.key is None:
        from .models import SigningKey

        if session.scalar(select(SigningKey.id).where(SigningKey.owner == "log", SigningKey.active_until.is_(None))
                          .limit(1)) is None:
            # None yet: wait for the log's row lock first (held by any append until its commit), so
            # that of processes starting at once the second finds the key the first made instead
            # of making a "key-2" (PostgreSQL; SQLite's writers are serialised already).
            session.execute(select(_STATE.c.size).where(_STATE.c.id == 1).with_for_update())
        before = size(session)
        key = app.extensions["registry.signer"].log_key(session, app.config["PUBLIC_URL"])
        if size(session) != before:  # just made: its creation was appended
            session.commit()
        st.key = key
    return st.key


def _raw_public(key) -> bytes:
    return base64.urlsafe_b64decode(key.public_jwk["x"] + "==")


def _open(session):
    """Sessions may be passed as a callable, so that cached answers open none."""
    return session() if callable(session) else session


def checkpoint(session: Session, *, cover: int = 0, app=None, known_size: int | None = None) -> merkle.Checkpoint:
    """A recent signed checkpoint of at least ``cover`` entries.

    Signs a new one only when the tree grew and the latest is older than the interval (or does
    not cover ``cover``); stores it at most once an interval. May commit ``session``.
    """
    from flask import current_app

    app = app or current_app._get_current_object()
    st = _state(app)
    interval = _interval(app)
    now = time.monotonic()
    with st.lock:
        cur = st.latest
        if cur is not None and cur.size >= cover and now - st.checked_at < interval:
            return cur
    session = _open(session)
    if st.latest is None or now - st.stored_checked >= interval:
        # What other processes stored: read once an interval, not for every answer.
        stored = session.execute(select(TlogCheckpoint).order_by(TlogCheckpoint.size.desc()).limit(1)
                                 ).scalar_one_or_none()
        with st.lock:
            st.stored_checked = now
            if stored is not None:
                age = (utcnow() - stored.created_at).total_seconds()
                st.stored_size, st.stored_at = stored.size, now - age
                if st.latest is None or stored.size > st.latest.size:
                    st.latest = merkle.Checkpoint.parse_body(stored.note[:stored.note.index("\n\n") + 1], stored.note)
                    st.signed_at = now - age
    cur = st.latest
    if st.key is None:
        _log_key(session, app)  # made on first use; its creation is an entry of its own
    conn = session.connection()
    current = known_size if known_size is not None else size(conn)
    if cur is not None and cur.size >= cover and (cur.size == current or now - st.signed_at < interval):
        with st.lock:
            st.checked_at = now
        return cur
    cp = _sign(conn, app, _log_key(session, app), current)
    if st.stored_size < current and now - st.stored_at >= interval:
        _store(session, cp, app)
        st.stored_size, st.stored_at = current, now
    _keep(st, cp, now)
    return cp


def _sign(conn, app, key, size: int) -> merkle.Checkpoint:
    st = _state(app)
    root = Tree(conn, size, st.tiles, st.edge).root()
    name = origin_for(app.config["PUBLIC_URL"])
    signer = app.extensions["registry.signer"]
    body = merkle.Checkpoint(name, size, root).body
    note = merkle.sign_note(body, name, lambda data: signer.sign_bytes(key, data), _raw_public(key))
    return merkle.Checkpoint(name, size, root, note)


def _keep(st: _State, cp: merkle.Checkpoint, now: float) -> None:
    with st.lock:
        if st.latest is None or cp.size >= st.latest.size:
            st.latest, st.signed_at, st.checked_at = cp, now, now


def checkpoint_at_start(app) -> merkle.Checkpoint | None:
    """Sign and store a checkpoint of the whole log as the registry starts, unless a stored one
    covers it already; returns it (None when none was needed or the database cannot be read).

    create_app calls it: under gunicorn the master does, once, before forking (``preload_app``),
    and the workers inherit the checkpoint and the right edge it read. Processes starting at once
    sign the same tree (Ed25519 is deterministic) and store it once: the insert ignores a size
    already stored. A database not migrated yet is left alone; the worker signs once it is.
    """
    from flask import g
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError

    from .db import new_session

    st = _state(app)
    with app.app_context():
        session = new_session()
        try:
            g.db_write = False  # SQLite: the look takes no write lock
            n = size(session)
            stored = session.execute(select(func.max(TlogCheckpoint.size))).scalar()
            if n:
                # Warm what every process's first proofs need (inherited by forked workers): the
                # right edge, and the one-query read compiled for both of its shapes (edge unread,
                # then edge known); leaf 0's path has as many full tiles as most leaves'.
                tree = Tree(session.connection(), n, st.tiles, st.edge)
                tree.root()
                tree.inclusion(0)
            session.rollback()
            if n == 0 or (stored is not None and stored >= n):
                return None
            g.db_write = True
            for attempt in range(3):
                try:
                    key = _log_key(session, app)  # made and committed if the log has none yet
                    cp = _sign(session.connection(), app, key, size(session))
                    _store(session, cp, app)
                    break
                except IntegrityError:  # another process made the log key at the same moment: use theirs
                    session.rollback()
                    if attempt == 2:
                        raise
            now = time.monotonic()
            st.stored_size, st.stored_at = cp.size, now
            _keep(st, cp, now)
            return cp
        except SQLAlchemyError as err:  # not migrated yet, or not reachable: the worker signs later
            session.rollback()
            _log.info("no checkpoint at start: %s", err)
            return None
        except LookupError as err:  # a stored tile is missing: requests report it, the start goes on
            session.rollback()
            _log.error("no checkpoint at start: %s", err)
            return None
        finally:
            session.close()
            # Nothing pooled survives into forked gunicorn workers.
            app.extensions["registry.engine"].dispose()


def _store(session: Session, cp: merkle.Checkpoint, app) -> None:
    """Store a checkpoint, and the right edge of its tree in place of the previous one's."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    st = _state(app)
    edge = edge_blob(Tree(session.connection(), cp.size, st.tiles, st.edge))
    session.execute(upsert(TlogCheckpoint).values(size=cp.size, root_hash=cp.root, note=cp.text, created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["size"]))
    session.execute(upsert(TlogEdge).values(size=cp.size, hashes=edge).on_conflict_do_nothing(index_elements=["size"]))
    session.execute(delete(TlogEdge).where(TlogEdge.size < cp.size))
    session.commit()


def index_of(session: Session, certificate_id: str, *, app=None) -> int | None:
    """The index of a certificate's issuance entry, or None."""
    from flask import current_app

    app = app or current_app._get_current_object()
    st = _state(app)
    hit = st.indices.get(certificate_id)
    if hit is None and not callable(session):
        noted = session.info.get("tlog.issued", {}).get(certificate_id)
        hit = noted[0] if noted else None
    if hit is None:
        hit = _open(session).execute(select(Certificate.log_index).where(Certificate.id == certificate_id)).scalar()
        if hit is not None:
            st.indices.put(certificate_id, hit)
    return hit


def claim(session: Session, index: int, *, app=None, derive=None) -> dict:
    """``{index, checkpoint, inclusionProof, entry}`` for an entry, against a recent checkpoint.

    ``derive(session)`` may offer the entry's bytes as built again from what it records (a
    certificate's row, which a verification has just read): they are used only when they hash to
    the logged leaf, which the proof has just read too. The entry's own row, one more random page
    in a large log, is read only otherwise."""
    from flask import current_app

    app = app or current_app._get_current_object()
    st = _state(app)
    noted = None if callable(session) else session.info.get("tlog.noted", {}).get(index)
    if not noted:
        # A reader's claim may rest on a checkpoint up to an interval old. Without this, every
        # issuance (whose answer signs a checkpoint covering its entry) would send the next reader
        # of each certificate back to the database for a proof against a tree one entry longer.
        recent = st.recent.get(index)
        if recent is not None and time.monotonic() - recent[0] < _interval(app):
            return dict(recent[1])
    if noted:
        # This session appended it and has committed: every entry before it is committed too (appends
        # are serialised), so a tree of index + 1 entries exists, and its right edge ends with this leaf.
        _extend_edge(st.edge, index, merkle.leaf_hash(noted))
        cp = checkpoint(session, cover=index + 1, app=app, known_size=index + 1)
    else:
        cp = checkpoint(session, cover=index + 1, app=app)
    key = (index, cp.size, cp.root)
    hit = st.claims.get(key)
    if hit is None:
        session = _open(session)
        t = Tree(session.connection(), cp.size, st.tiles, st.edge)
        proof = merkle.b64_hashes(t.inclusion(index))
        entry = noted
        if not entry and derive is not None:
            entry = derive(session)
            if entry is not None and merkle.leaf_hash(entry) != t.node(0, index):
                entry = None
        if not entry:
            entry = session.execute(select(TlogEntry.entry).where(TlogEntry.idx == index)).scalar_one()
        hit = (proof, entry.decode())
        st.claims.put(key, hit)
    answer = {"index": index, "checkpoint": cp.text, "inclusionProof": hit[0], "entry": hit[1]}
    if not noted:
        st.recent.put(index, (time.monotonic(), answer))
    return answer


def _extend_edge(edge: dict, index: int, leaf: bytes) -> None:
    known = edge.get((0, index // WIDTH))
    if known is not None and len(known) == index % WIDTH:
        edge[(0, index // WIDTH)] = known + [leaf]


def certificate_claim(session: Session, certificate_id: str, *, app=None) -> dict | None:
    """The log claim of a certificate's issuance entry, or None when it has none."""
    index = index_of(session, certificate_id, app=app)
    if index is None:
        return None
    return claim(session, index, app=app, derive=_rebuilt(certificate_id))


def _rebuilt(certificate_id: str):
    """:func:`claim`'s ``derive`` for a certificate's issuance entry."""
    return lambda session: _issuance_entry(session, certificate_id)


_ISSUANCE_ROW = select(Certificate.id, Certificate.number, Certificate.body_id, Certificate.type,
                       Certificate.manufacturer_id, Certificate.gtin, Certificate.credential,
                       Certificate.supersedes_id, Certificate.created_at).where(Certificate.id == bindparam("cid"))


def _issuance_entry(session: Session, certificate_id: str) -> bytes | None:
    """The issuance entry :func:`append` wrote for a certificate, built again from its row."""
    row = session.execute(_ISSUANCE_ROW, {"cid": certificate_id}).first()
    if row is None:
        return None
    return merkle.canonical_json(build_event("certificate.issued", certificate=row, now=row.created_at))


def certificate_claims(session: Session, certificate_ids: list[str], *, app=None) -> dict[str, dict | None]:
    """:func:`certificate_claim` of each certificate (a batch's answer). The entries this session
    appended (and has committed) are proved together against one checkpoint covering them all:
    proofs of neighbouring leaves share most of their hashes, so each is computed and encoded once."""
    from flask import current_app

    app = app or current_app._get_current_object()
    indices = {cid: index_of(session, cid, app=app) for cid in certificate_ids}
    noted = session.info.get("tlog.noted", {})
    mine = sorted({i for i in indices.values() if i is not None and noted.get(i)})
    answers = _noted_claims(session, mine, noted, app) if mine else {}
    for cid, i in indices.items():
        if i is not None and i not in answers:
            answers[i] = claim(session, i, app=app, derive=_rebuilt(cid))
    return {cid: None if i is None else answers[i] for cid, i in indices.items()}


def _noted_claims(session: Session, indices: list[int], noted: dict, app) -> dict[int, dict]:
    """What :func:`claim` answers for each of ``indices`` (ascending, all noted in ``session``)."""
    st = _state(app)
    for index in indices:  # ascending: each extends the edge the one before it ended
        _extend_edge(st.edge, index, merkle.leaf_hash(noted[index]))
    cp = checkpoint(session, cover=indices[-1] + 1, app=app, known_size=indices[-1] + 1)
    t = Tree(session.connection(), cp.size, st.tiles, st.edge)
    t.prefetch(*indices)
    proofs = _inclusion_paths(indices, cp.size, t.mth)
    answers = {}
    for index in indices:
        key = (index, cp.size, cp.root)
        hit = st.claims.get(key)
        if hit is None:
            hit = (proofs[index], noted[index].decode())
            st.claims.put(key, hit)
        answers[index] = {"index": index, "checkpoint": cp.text, "inclusionProof": hit[0], "entry": hit[1]}
    return answers


def _inclusion_paths(indices: list[int], size: int, mth) -> dict[int, list[str]]:
    """``merkle.inclusion_path`` of each of ``indices`` (ascending) in the tree of ``size``, base64-encoded:
    walked down once for all of them, so a subtree shared by many proofs is hashed and encoded once."""
    out: dict[int, list[str]] = {}

    def walk(lo: int, hi: int, first: int, last: int, above: list[str]) -> None:
        # indices[first:last] are the leaves under [lo, hi); ``above`` the siblings from the root down.
        if hi - lo == 1:
            out[lo] = above[::-1]
            return
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        split = bisect.bisect_left(indices, lo + k, first, last)
        if split > first:
            walk(lo, lo + k, first, split, above + [base64.b64encode(mth(lo + k, hi)).decode()])
        if last > split:
            walk(lo + k, hi, split, last, above + [base64.b64encode(mth(lo, lo + k)).decode()])

    if indices:
        walk(0, size, 0, len(indices), [])
    return out


# --------------------------------------------------------------------------------------------
# The log of what happened before it existed


_AUDIT_KINDS = {"certificate.issued": "certificate.issued", "certificate.suspended": "certificate.suspended",
                "certificate.active": "certificate.reinstated", "certificate.revoked": "certificate.revoked",
                "body.accredited": "body.accredited", "body.accreditation-added": "body.accreditation-added",
                "body.suspended": "body.suspended", "body.reinstated": "body.reinstated",
                "body.withdrawn": "body.withdrawn", "body.key-rotated": "body.key-rotated",
                "registry.key-rotated": "registry.key-rotated"}


class _Row:
    def __init__(self, mapping):
        self.__dict__.update(mapping)


def history_events(conn) -> list[dict]:
    """Every issuance, status change, accreditation change and key creation already recorded,
    in the order they happened (from the audit trail, certificates and keys)."""
    from sqlalchemy import MetaData, Table

    md = MetaData()
    audit = Table("audit_log", md, autoload_with=conn)
    certs = Table("certificates", md, autoload_with=conn)
    keys = Table("signing_keys", md, autoload_with=conn)
    by_id = {r.id: _Row({**r._mapping, "credential": _credential_text(r.credential)}) for r in conn.execute(select(
        certs.c.id, certs.c.number, certs.c.body_id, certs.c.type, certs.c.manufacturer_id, certs.c.gtin,
        certs.c.credential, certs.c.supersedes_id, certs.c.created_at))}
    timed: list[tuple] = []
    issued = set()
    rows = conn.execute(select(audit.c.id, audit.c.at, audit.c.action, audit.c.target_id, audit.c.details)
                        .where(audit.c.action.in_(list(_AUDIT_KINDS))).order_by(audit.c.at, audit.c.id))
    for n, r in enumerate(rows):
        kind = _AUDIT_KINDS[r.action]
        at = _aware(r.at)
        if kind.startswith("certificate."):
            cert = by_id.get(r.target_id)
            if cert is None:
                continue
            if kind == "certificate.issued":
                issued.add(cert.id)
            event = build_event(kind, certificate=cert, details=r.details or {}, now=at)
        else:
            event = build_event(kind, body_id=r.target_id if kind.startswith("body.") else None,
                                document=r.details or {}, now=at)
        timed.append((at, 1, n, event))
    for cert in by_id.values():
        if cert.id not in issued:
            at = _aware(cert.created_at)
            timed.append((at, 0, 0, build_event("certificate.issued", certificate=cert, now=at)))
    for n, k in enumerate(conn.execute(select(keys.c.kid, keys.c.owner, keys.c.body_id, keys.c.public_jwk,
                                              keys.c.active_from).order_by(keys.c.id))):
        at = _aware(k.active_from)
        timed.append((at, 0, n, build_event("key.created", key=_Row(k._mapping), now=at)))
    timed.sort(key=lambda x: x[:3])
    return [e for *_, e in timed]


def _credential_text(stored) -> str:
    """The compact JWS as signed: reflected tables hand back the stored (packed) bytes."""
    from .models import unpack_jws

    return stored if isinstance(stored, str) else unpack_jws(bytes(stored))


def _aware(t: datetime) -> datetime:
    from datetime import timezone

    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def log_descriptor(session: Session, public_url: str, *, app=None) -> dict:
    """What the trust list says of the log: its origin, note verifier key and URL."""
    return {"origin": origin_for(public_url), "key": verifier_key(session, app=app),
            "url": public_url.rstrip("/") + "/log"}


# --------------------------------------------------------------------------------------------
# Operations: metrics and the worker


class _Collector:
    """Prometheus gauges read at scrape time: the log's size, the last checkpoint's size and age."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from .db import read_connection

        try:
            with read_connection() as conn:
                n, last = status(conn)
        except Exception:  # no app context or no database: the scrape goes on without these
            return
        yield GaugeMetricFamily("registry_tlog_size", "Entries in the transparency log", value=n)
        if last is not None:
            yield GaugeMetricFamily("registry_tlog_checkpoint_size", "Entries in the last stored checkpoint",
                                    value=last.size)
            yield GaugeMetricFamily("registry_tlog_checkpoint_age_seconds", "Age of the last stored checkpoint",
                                    value=(utcnow() - last.created_at).total_seconds())


class Stored(NamedTuple):
    size: int
    created_at: datetime  # UTC


def status(conn) -> tuple[int, Stored | None]:
    """The log's size and its last stored checkpoint, for operators: /metrics and the portal."""
    n = size(conn)
    last = conn.execute(select(TlogCheckpoint.size, TlogCheckpoint.created_at)
                        .order_by(TlogCheckpoint.size.desc()).limit(1)).first()
    if last is None:
        return n, None
    created = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=utcnow().tzinfo)
    return n, Stored(last.size, created)


def init_app(app) -> None:
    app.extensions["registry.metrics"].register(_Collector(app))


@task("tlog-checkpoint")
def _checkpoint_task(app) -> int:
    """Sign and store a checkpoint when the tree grew and the last is older than the interval."""
    from .db import new_session

    session = new_session()
    try:
        before = _state(app).latest
        cp = checkpoint(session, app=app)
        return int(before is None or cp.size != before.size)
    finally:
        if session is not app.config.get("SESSION"):
            session.close()
