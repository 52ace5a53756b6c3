"""The transparency log, public: checkpoint, verifier key, C2SP tiles, and proofs."""

from __future__ import annotations

import base64

from flask import Response, current_app, request
from sqlalchemy import literal_column, select

from verifier import _tlog as merkle

from .. import tlog
from ..db import get_session
from ..errors import InvalidInput, NotFound
from ..http import limiter
from ..models import LEAF_PREFIX, TlogEntry
from . import doc, public

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5"
INT_PARAM = {"type": "integer", "minimum": 0}


def _limit():
    return current_app.config["RATELIMIT_PUBLIC"]


def _binary(data: bytes, cache: str) -> Response:
    resp = Response(data, mimetype="application/octet-stream")
    resp.headers["Cache-Control"] = cache
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def _tile_address(path: str) -> tuple[int, int | None]:
    """``x001/234`` or ``x001/234.p/5`` → (index, partial width or None)."""
    width = None
    if ".p/" in path:
        path, _, w = path.partition(".p/")
        if not w.isdigit() or not 1 <= int(w) < merkle.TILE_WIDTH or (len(w) > 1 and w[0] == "0"):
            raise NotFound("A partial tile's width is 1 to 255", type="tile-not-found")
        width = int(w)
    try:
        return merkle.parse_tile_index(path), width
    except ValueError as err:
        raise NotFound("Not a C2SP tile path", type="tile-not-found") from err


@public.get("/log/checkpoint")
@limiter.limit(_limit)
@doc(tags=["transparency log"])
def log_checkpoint():
    """The latest C2SP checkpoint: a signed note (Ed25519) of the log's size and root hash."""
    cp = tlog.checkpoint(get_session())
    resp = Response(cp.text, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@public.get("/log/key")
@limiter.limit(_limit)
@doc(tags=["transparency log"])
def log_key():
    """The log's note verifier key: ``<origin>+<hex key id>+<base64(0x01 ‖ Ed25519 public key)>``."""
    resp = Response(tlog.verifier_key(get_session()) + "\n", mimetype="text/plain")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@public.get("/log/tile/<int:level>/<path:address>")
@limiter.limit(_limit)
@doc(tags=["transparency log"], responses={404: "tile-not-found"})
def log_tile(level: int, address: str):
    """A C2SP tlog-tiles hash tile (full tiles are immutable)."""
    index, width = _tile_address(address)
    tree = tlog.tree(get_session())
    have = tree.width(level, index) if level < 8 else 0
    if have == 0 or (width or merkle.TILE_WIDTH) > have:
        raise NotFound("The log has no such tile yet", type="tile-not-found")
    hashes = tree.base(level, index, width or merkle.TILE_WIDTH)
    return _binary(b"".join(hashes), IMMUTABLE if width is None else SHORT)


@public.get("/log/tile/entries/<path:address>")
@limiter.limit(_limit)
@doc(tags=["transparency log"], responses={404: "tile-not-found"})
def log_entries(address: str):
    """A C2SP entry bundle: the entries of a level-0 tile, each prefixed by its 2-byte length."""
    index, width = _tile_address(address)
    session = get_session()
    have = tlog.tree(session).width(0, index)
    if have == 0 or (width or merkle.TILE_WIDTH) > have:
        raise NotFound("The log has no such entry bundle yet", type="tile-not-found")
    lo = index * merkle.TILE_WIDTH
    entries = session.scalars(select(TlogEntry.entry).where(
        TlogEntry.idx >= lo, TlogEntry.idx < lo + (width or merkle.TILE_WIDTH)).order_by(TlogEntry.idx)).all()
    return _binary(merkle.bundle(entries), IMMUTABLE if width is None else SHORT)


def entry_by_leaf(leaf: bytes):
    """The first entry with this leaf hash, sought on the index of the hash's first 8 bytes."""
    return (select(TlogEntry.idx).where(literal_column(LEAF_PREFIX) == leaf[:8], TlogEntry.leaf_hash == leaf)
            .order_by(TlogEntry.idx).limit(1))


def _int_arg(name: str, required: bool = True) -> int | None:
    raw = request.args.get(name)
    if raw is None and not required:
        return None
    if raw is None or not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"{name} must be a non-negative integer", type="invalid-log-query",
                           errors={name: ["Must be a non-negative integer."]})
    return int(raw)


@public.get("/log/proof/inclusion")
@limiter.limit(_limit)
@doc(tags=["transparency log"], responses={422: "invalid-log-query"},
     params=[{"name": "index", "in": "query", "required": False, "schema": INT_PARAM},
             {"name": "hash", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "base64 leaf hash, instead of index"},
             {"name": "size", "in": "query", "required": False, "schema": INT_PARAM,
              "description": "tree size (default: the latest checkpoint's)"}])
def log_inclusion():
    """RFC 9162 inclusion proof of an entry (by index or leaf hash) in the tree of ``size`` entries."""
    session = get_session()
    size = _int_arg("size", required=False)
    if size is None:
        size = tlog.checkpoint(session).size
    if "hash" in request.args:
        try:
            # a "+" left unescaped in a query string arrives as a space
            leaf = base64.b64decode(request.args["hash"].replace(" ", "+"), validate=True)
        except ValueError as err:
            raise InvalidInput("hash must be base64", type="invalid-log-query",
                               errors={"hash": ["Must be base64."]}) from err
        index = session.scalars(entry_by_leaf(leaf)).first()
        if index is None:
            raise NotFound("No entry has that leaf hash", type="log-entry-not-found")
    else:
        index = _int_arg("index")
    current = tlog.size(session)
    if not 0 <= index < size <= current:
        raise InvalidInput("index must be below size, and size at most the log's size",
                           type="invalid-log-query", errors={"size": [f"The log has {current} entries."]})
    tree = tlog.tree(session, size)
    return {"index": index, "treeSize": size, "inclusionProof": merkle.b64_hashes(tree.inclusion(index))}


@public.get("/log/proof/consistency")
@limiter.limit(_limit)
@doc(tags=["transparency log"], responses={422: "invalid-log-query"},
     params=[{"name": "first", "in": "query", "required": True, "schema": INT_PARAM},
             {"name": "second", "in": "query", "required": True, "schema": INT_PARAM}])
def log_consistency():
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` entries."""
    session = get_session()
    first, second = _int_arg("first"), _int_arg("second")
    current = tlog.size(session)
    if not 0 < first <= second <= current:
        raise InvalidInput("0 < first ≤ second ≤ the log's size", type="invalid-log-query",
                           errors={"second": [f"The log has {current} entries."]})
    tree = tlog.tree(session, second)
    return {"first": first, "second": second, "consistencyProof": merkle.b64_hashes(tree.consistency(first))}
