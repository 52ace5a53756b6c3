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
import hashlib
import threading
import time
from collections import OrderedDict
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from verifier import _tlog as merkle

from .models import TlogCheckpoint, TlogEntry, TlogState, TlogTile, utcnow
from .worker import task

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
    conn.execute(_APPEND, {"idx": index, "leaf_hash": merkle.leaf_hash(entry), "entry": entry, "kind": event["kind"],
                           "certificate_id": event.get("certificateId"), "created_at": utcnow()})
    if size % WIDTH == 0:
        _seal_tiles(session, size)
    if event["kind"] == "certificate.issued":
        # The answer to this issuance needs the index: spare it a look-up. A certificate id is new,
        # so a rolled-back issuance's note is never asked for.
        session.info.setdefault("tlog.issued", {})[event["certificateId"]] = (index, entry)
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


def bulk_append(conn, events: list[dict], *, batch: int = 5000) -> int:
    """Append many events at once through a Core connection (building the log for existing data);
    returns the new size. The caller holds the transaction."""
    size = conn.execute(select(TlogState.size).where(TlogState.id == 1)).scalar_one()
    tiles: dict[int, list[bytes]] = {}
    pending_level0 = list(conn.execute(select(TlogEntry.leaf_hash).where(
        TlogEntry.idx >= size - size % WIDTH).order_by(TlogEntry.idx)).scalars()) if size % WIDTH else []
    # The driver's executemany directly: the ORM's per-row type processing costs more than the hashing.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO tlog_entries (idx, leaf_hash, entry, kind, certificate_id) VALUES ({', '.join([mark] * 5)})"
    canonical, digest = merkle.canonical_json, merkle.leaf_hash
    rows = []
    for event in events:
        entry = canonical(event)
        leaf = digest(entry)
        rows.append((size, leaf, entry, event["kind"], event.get("certificateId")))
        size += 1
        pending_level0.append(leaf)
        if len(pending_level0) == WIDTH:
            _bulk_seal(conn, tiles, 0, size // WIDTH - 1, pending_level0)
            pending_level0 = []
        if len(rows) >= batch:
            conn.exec_driver_sql(sql, rows)
            rows = []
    if rows:
        conn.exec_driver_sql(sql, rows)
    conn.execute(update(TlogState).where(TlogState.id == 1).values(size=size))
    return size


def append_many(session: Session, events: list[dict]) -> list[int]:
    """Append ``events`` (from :func:`build_event`) in order in the session's transaction, as
    :func:`append` would one by one, with one counter update; returns their indices."""
    if not events:
        return []
    conn = session.connection()
    size = conn.execute(_STATE.update().where(_STATE.c.id == 1).values(size=_STATE.c.size + len(events))
                        .returning(_STATE.c.size)).scalar_one()
    first, created = size - len(events), utcnow()
    issued = session.info.setdefault("tlog.issued", {})
    rows = []
    for index, event in enumerate(events, first):
        entry = merkle.canonical_json(event)
        rows.append({"idx": index, "leaf_hash": merkle.leaf_hash(entry), "entry": entry, "kind": event["kind"],
                     "certificate_id": event.get("certificateId"), "created_at": created})
        if event["kind"] == "certificate.issued":
            issued[event["certificateId"]] = (index, entry)
    conn.execute(_APPEND, rows)
    for filled in range(first - first % WIDTH + WIDTH, size + 1, WIDTH):
        _seal_tiles(session, filled)
    return list(range(first, size))


def _bulk_seal(conn, pending: dict[int, list[bytes]], level: int, t: int, base: list[bytes]) -> None:
    blob, root = tile_blob(base)
    conn.execute(insert(TlogTile).values(level=level, idx=t, hashes=blob, root=root))
    above = pending.get(level + 1)
    if above is None:
        start = t - t % WIDTH
        above = pending[level + 1] = list(conn.execute(select(TlogTile.root).where(
            TlogTile.level == level, TlogTile.idx >= start, TlogTile.idx < t).order_by(TlogTile.idx)).scalars())
    above.append(root)
    if len(above) == WIDTH:
        pending[level + 1] = []
        _bulk_seal(conn, pending, level + 1, t // WIDTH, above)


# --------------------------------------------------------------------------------------------
# Reading the tree


# Built once: these run for every proof.
_FULL_TILE = select(TlogTile.hashes).where(TlogTile.level == bindparam("level"), TlogTile.idx == bindparam("t"))
_LEAVES = (select(TlogEntry.leaf_hash).where(TlogEntry.idx >= bindparam("lo"), TlogEntry.idx < bindparam("hi"))
           .order_by(TlogEntry.idx))
_ROOTS = (select(TlogTile.root).where(TlogTile.level == bindparam("level"), TlogTile.idx >= bindparam("lo"),
                                      TlogTile.idx < bindparam("hi")).order_by(TlogTile.idx))


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

    def base(self, level: int, t: int, width: int) -> list[bytes]:
        """The first ``width`` hashes of tile ``level``/``t``."""
        if self.width(level, t) == WIDTH:
            blob = self._full(level, t)
            return [blob[i * 32:(i + 1) * 32] for i in range(width)]
        hit = self._partial.get((level, t)) or []
        if len(hit) < width:
            lo = t * WIDTH + len(hit)
            hi = t * WIDTH + width
            if level == 0:
                more = list(self.conn.execute(_LEAVES, {"lo": lo, "hi": hi}).scalars())
            else:
                more = list(self.conn.execute(_ROOTS, {"level": level - 1, "lo": lo, "hi": hi}).scalars())
            if len(more) < hi - lo:
                raise LookupError(f"log tile {level}/{t} has {len(hit) + len(more)} of {width} hashes")
            hit = hit + more
            if len(self._partial) > 4096:
                self._partial.clear()
            self._partial[(level, t)] = hit
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
            hit = self._partial[key] = merkle.root_of(self.base(level, t, lo + (1 << sub))[lo:])
        return hit

    def mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo // n)
        k = 1 << ((n - 1).bit_length() - 1)
        return merkle.node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self) -> bytes:
        return self.mth(0, self.size) if self.size else merkle.EMPTY_ROOT

    def inclusion(self, index: int) -> list[bytes]:
        return merkle.inclusion_path(index, self.size, self.mth)

    def consistency(self, first: int) -> list[bytes]:
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
    signer = app.extensions["registry.signer"]
    key = _log_key(session, app)
    root = Tree(conn, current, st.tiles, st.edge).root()
    name = origin_for(app.config["PUBLIC_URL"])
    body = merkle.Checkpoint(name, current, root).body
    note = merkle.sign_note(body, name, lambda data: signer.sign_bytes(key, data), _raw_public(key))
    cp = merkle.Checkpoint(name, current, root, note)
    if st.stored_size < current and now - st.stored_at >= interval:
        _store(session, cp)
        st.stored_size, st.stored_at = current, now
    with st.lock:
        if st.latest is None or cp.size >= st.latest.size:
            st.latest, st.signed_at, st.checked_at = cp, now, now
    return cp


def _store(session: Session, cp: merkle.Checkpoint) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    session.execute(upsert(TlogCheckpoint).values(size=cp.size, root_hash=cp.root, note=cp.text, created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["size"]))
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
        hit = _open(session).execute(select(func.min(TlogEntry.idx)).where(
            TlogEntry.certificate_id == certificate_id, TlogEntry.kind == "certificate.issued")).scalar()
        if hit is not None:
            st.indices.put(certificate_id, hit)
    return hit


def claim(session: Session, index: int, *, app=None) -> dict:
    """``{index, checkpoint, inclusionProof, entry}`` for an entry, against a recent checkpoint."""
    from flask import current_app

    app = app or current_app._get_current_object()
    st = _state(app)
    noted = None if callable(session) else [e for i, e in session.info.get("tlog.issued", {}).values() if i == index]
    if noted:
        # This session appended it and has committed: every entry before it is committed too (appends
        # are serialised), so a tree of index + 1 entries exists, and its right edge ends with this leaf.
        _extend_edge(st.edge, index, merkle.leaf_hash(noted[0]))
        cp = checkpoint(session, cover=index + 1, app=app, known_size=index + 1)
    else:
        cp = checkpoint(session, cover=index + 1, app=app)
    key = (index, cp.size, cp.root)
    hit = st.claims.get(key)
    if hit is None:
        session = _open(session)
        t = Tree(session.connection(), cp.size, st.tiles, st.edge)
        entry = noted[0] if noted else session.execute(select(TlogEntry.entry).where(TlogEntry.idx == index)).scalar_one()
        hit = (merkle.b64_hashes(t.inclusion(index)), entry.decode())
        st.claims.put(key, hit)
    return {"index": index, "checkpoint": cp.text, "inclusionProof": hit[0], "entry": hit[1]}


def _extend_edge(edge: dict, index: int, leaf: bytes) -> None:
    known = edge.get((0, index // WIDTH))
    if known is not None and len(known) == index % WIDTH:
        edge[(0, index // WIDTH)] = known + [leaf]


def certificate_claim(session: Session, certificate_id: str, *, app=None) -> dict | None:
    """The log claim of a certificate's issuance entry, or None when it has none."""
    index = index_of(session, certificate_id, app=app)
    return None if index is None else claim(session, index, app=app)


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
                n = size(conn)
                last = conn.execute(select(TlogCheckpoint.size, TlogCheckpoint.created_at)
                                    .order_by(TlogCheckpoint.size.desc()).limit(1)).first()
        except Exception:  # no app context or no database: the scrape goes on without these
            return
        yield GaugeMetricFamily("registry_tlog_size", "Entries in the transparency log", value=n)
        if last is not None:
            created = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=utcnow().tzinfo)
            yield GaugeMetricFamily("registry_tlog_checkpoint_size", "Entries in the last stored checkpoint",
                                    value=last.size)
            yield GaugeMetricFamily("registry_tlog_checkpoint_age_seconds", "Age of the last stored checkpoint",
                                    value=(utcnow() - created).total_seconds())


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
