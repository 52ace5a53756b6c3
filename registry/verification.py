"""Verification inside the registry: a database-backed resolver for :func:`verifier.verify_credential`.

The registry is its own source of truth, so it hands the verifier its trust list and status
lists directly from the database (no JWS round trip, no HTTP). Every check is still made by
``verifier.verify_credential``; this module only supplies what that function asks its resolver for.

Caches (per process, i.e. per app):

* the :class:`~verifier.TrustList`, keyed by the ``trust`` version (:mod:`registry.versions`),
  which every change to a body, key, accreditation or interruption moves in its own transaction,
  so a stale trust list is never served;
* the list of status lists keyed by the ``status`` version, and decoded status bits per
  ``(list id, version)``; the version is bumped by every bit flip.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from collections import OrderedDict, namedtuple

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from verifier import (
    Check,
    Error,
    SignatureCache,
    StatusListSnapshot,
    StatusUnavailable,
    TrustList,
    TrustListUnavailable,
    VerificationResult,
    parse_verification_link,
    verify_credential,
)

from . import versions
from .db import read_connection
from .models import Certificate, StatusList
from .services import accreditation
from .signing import did_for

UTC = _dt.timezone.utc
log = logging.getLogger("registry")
#: A cached trust list is rebuilt at least this often even when nothing changed (its ``exp`` moves on).
TRUST_LIST_MAX_AGE = 300


class _Answers:
    """A small LRU of verification answers keyed by a tag of every input they depend on."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)


class VerifyCache:
    """What a process keeps between requests: the trust list, decoded status bits, verified signatures."""

    def __init__(self) -> None:
        self.answers = _Answers()
        self.lock = threading.Lock()
        self.trust: tuple[tuple, float, TrustList] | None = None
        self.bits: dict[tuple[str, int], tuple[str, bytes]] = {}
        self.versions: tuple[tuple, dict[str, tuple[str, int]]] | None = None
        self.signatures = SignatureCache(4096)
        # Serialised log claims of /v/ answers by (entry index, checkpoint text).
        self.claims = _Answers()
        # (header, payload) of issued credentials by certificate id: a stored credential never changes.
        self.records = _Answers()


def cache_for(app) -> VerifyCache:
    cache = app.extensions.get("registry.verify_cache")
    if cache is None:
        cache = app.extensions.setdefault("registry.verify_cache", VerifyCache())
    return cache


# Two counters read by primary key (registry.versions): issuing certificates or writing the
# audit log moves neither, so verification caches survive a steady stream of issuance.
FINGERPRINT_COLUMNS = (versions.TRUST_VERSION, versions.STATUS_VERSION)
_N_TRUST = 1
_FINGERPRINT = select(*FINGERPRINT_COLUMNS)
_VERSIONS = select(StatusList.id, StatusList.purpose, StatusList.version)
#: The certificate columns verification needs, with the fingerprint, in one round trip.
#: The credential itself is read only when the answer is not memoised.
CERT_FOR_VERIFY = select(Certificate.id, Certificate.number, Certificate.type, Certificate.status,
                         Certificate.status_reason, Certificate.grade, Certificate.valid_from,
                         Certificate.valid_until, Certificate.revocation_list_id,
                         Certificate.suspension_list_id, *FINGERPRINT_COLUMNS).where(Certificate.id == bindparam("cid"))
_N_CERT = 10


def trust_fingerprint(session: Session) -> tuple:
    """A cheap value that changes whenever the trust list or a status list changes. One query."""
    return tuple(session.connection().execute(_FINGERPRINT).one())


_CertRow = namedtuple("_CertRow", [c.key for c in CERT_FOR_VERIFY.selected_columns][:_N_CERT])
# The two times come back naive from SQLite: made aware where they stand in the row.
_VALID_FROM, _VALID_UNTIL = _CertRow._fields.index("valid_from"), _CertRow._fields.index("valid_until")
assert _VALID_UNTIL == _VALID_FROM + 1


class _HotRead:
    """``CERT_FOR_VERIFY`` compiled once for the engine's dialect and run on a bare DBAPI connection:
    a fifth of the cost of going through ``Connection.execute`` on this hottest path.

    On SQLite and PostgreSQL the read runs on a few connections of its own in autocommit mode, so
    each statement sees everything committed before it (a revocation shows in the very next
    answer) and no transaction is left open; they skip the pool's checkout, ping and reset, which
    cost as much as the query. A connection that fails is closed and the read is made again
    through the pool, which pings, reconnects or raises as for any other request.
    """

    #: Idle connections kept (more are closed after use): one per concurrently verifying thread.
    KEEP = 4

    def __init__(self, engine):
        self.engine = engine
        compiled = CERT_FOR_VERIFY.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.positional = compiled.positiontup
        self.defaults = dict(compiled.params)  # the version names
        if self.positional:  # the bound values in order, the certificate id's slot filled per call
            self.template = [self.defaults.get(k) for k in self.positional]
            self.slot = self.positional.index("cid")
        self.own = engine.dialect.name in ("sqlite", "postgresql")
        self.idle: list = []
        self.pid = os.getpid()

    def __call__(self, cert_id: str):
        if self.positional:
            args = self.template.copy()
            args[self.slot] = cert_id
        else:
            args = {**self.defaults, "cid": cert_id}
        if self.own:
            conn = self._take()
            try:
                row = self._read(conn, args)
            except Exception:  # noqa: BLE001 - the pooled read below reports a real failure
                _close_quietly(conn)
            else:
                if len(self.idle) < self.KEEP:
                    self.idle.append(conn)  # list.append/pop are atomic: threads share the list safely
                else:
                    _close_quietly(conn)
                return row
        conn = self.engine.raw_connection()
        try:
            return self._read(conn, args)
        finally:
            conn.close()  # back to the pool, which rolls back

    def _read(self, conn, args):
        cursor = conn.cursor()
        try:
            cursor.execute(self.sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()

    def _take(self):
        if self.pid != os.getpid():  # a forked worker must not share its parent's connections...
            # ...nor close them: freeing a PostgreSQL connection says goodbye on the parent's socket.
            _INHERITED.extend(self.idle)
            self.idle, self.pid = [], os.getpid()
        try:
            return self.idle.pop()
        except IndexError:
            pass
        fairy = self.engine.raw_connection()  # opened by the pool: its connect hooks (PRAGMAs, lock_timeout) ran
        fairy.detach()  # the pool forgets it (and opens another for itself when needed)
        conn = fairy.dbapi_connection  # the driver's own connection (sqlite3, psycopg)
        conn.rollback()  # the pool's ping may have begun a transaction
        if self.engine.dialect.name == "postgresql":
            conn.autocommit = True
        # SQLite: db._sqlite_hooks set isolation_level=None, i.e. autocommit, on every connection.
        return conn


#: Connections a forked process inherited from its parent: kept, unused, so they are never freed here.
_INHERITED: list = []


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - already broken
        pass


def _aware(value):
    # SQLite hands DateTime columns to a raw cursor as text; PostgreSQL as aware datetimes.
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def certificate_for_verify(cert_id: str):
    """``(certificate row, fingerprint)`` or ``(None, None)``: one query."""
    app = current_app._get_current_object()
    if app.config.get("SESSION") is not None:  # tests: read inside their transaction
        with read_connection() as conn:
            row = conn.execute(CERT_FOR_VERIFY, {"cid": cert_id}).first()
    else:
        reader = app.extensions.get("registry.hot_read")
        if reader is None:
            reader = app.extensions["registry.hot_read"] = _HotRead(app.extensions["registry.engine"])
        row = reader(cert_id)
    if row is None:
        return None, None
    cert = _CertRow(*row[:_VALID_FROM], _aware(row[_VALID_FROM]), _aware(row[_VALID_UNTIL]), *row[_VALID_UNTIL + 1:_N_CERT])
    return cert, tuple(row[_N_CERT:])


class RegistryResolver:
    """The verifier's Resolver protocol over the registry's own tables.

    Status lists are served only for URLs under our public URL (``<base>/status/<listId>``);
    any other URL is unavailable (STATUS_UNAVAILABLE), as is an unknown list.
    """

    def __init__(self, session: Session, public_url: str, *, cache: VerifyCache, trust_list_ttl: int = 86400,
                 now: _dt.datetime | None = None, fingerprint: tuple | None = None) -> None:
        self._session = session
        self.public_url = public_url.rstrip("/")
        self.cache = cache
        self.ttl = trust_list_ttl
        self.now = now
        self.signature_cache = cache.signatures
        self._trust: TrustList | None = None
        self._fingerprint: tuple | None = fingerprint
        self._versions: dict[str, tuple[str, int]] | None = None

    @functools.cached_property
    def registry_did(self) -> str:
        """The issuer of our status lists; derived only when a status list is read (a memo miss)."""
        return did_for(self.public_url)

    @property
    def session(self) -> Session:
        """The request's session, opened only when a cache is cold (``session`` may be a factory)."""
        if callable(self._session):
            self._session = self._session()
        return self._session

    # -- trust list
    def fingerprint(self) -> tuple:
        if self._fingerprint is None:
            self._fingerprint = trust_fingerprint(self.session)
        return self._fingerprint

    def trust_list(self) -> TrustList:
        """The trust list as the registry would sign it now. Raises TrustListUnavailable."""
        if self._trust is not None:
            return self._trust
        fp = self.fingerprint()[:_N_TRUST]
        cached = self.cache.trust
        if cached is not None and cached[0] == fp and time.monotonic() - cached[1] < TRUST_LIST_MAX_AGE:
            self._trust = cached[2]
            return self._trust
        try:
            payload = accreditation.trust_list_payload(self.session, self.public_url, self.ttl)
            trust = TrustList(payload)
        except TrustListUnavailable:
            raise
        except Exception as err:  # a database error must read as "unavailable", not as a verdict
            raise TrustListUnavailable(f"the registry could not build its trust list: {err}") from err
        with self.cache.lock:
            self.cache.trust = (fp, time.monotonic(), trust)
        self._trust = trust
        return trust

    # -- status lists
    def versions(self) -> dict[str, tuple[str, int]]:
        """``{listId: (purpose, version)}`` for every status list (a handful of rows). One query."""
        if self._versions is None:
            key = self.fingerprint()[_N_TRUST:]
            cached = self.cache.versions
            if cached is not None and cached[0] == key:
                self._versions = cached[1]
            else:
                rows = self.session.connection().execute(_VERSIONS).all()
                self._versions = {r[0]: (r[1], r[2]) for r in rows}
                self.cache.versions = (key, self._versions)
        return self._versions

    def list_id(self, url: str) -> str | None:
        prefix = self.public_url + "/status/"
        if not isinstance(url, str) or not url.startswith(prefix):
            return None
        list_id = url[len(prefix):]
        return list_id if 0 < len(list_id) <= 16 and "/" not in list_id else None

    def status_list(self, url: str) -> StatusListSnapshot:
        """The current bits of one of our status lists. Raises StatusUnavailable."""
        list_id = self.list_id(url)
        if list_id is None:
            raise StatusUnavailable(f"{url} is not a status list of this registry ({self.public_url})")
        known = self.versions().get(list_id)
        if known is None:
            raise StatusUnavailable(f"status list {url} does not exist")
        purpose, version = known
        key = (list_id, version)
        cached = self.cache.bits.get(key)
        if cached is None:
            bits = self.session.scalar(select(StatusList.bits).where(StatusList.id == list_id,
                                                                     StatusList.version == version))
            if bits is None:  # flipped between the two reads: take what is there now
                row = self.session.execute(select(StatusList.purpose, StatusList.version, StatusList.bits)
                                           .where(StatusList.id == list_id)).one()
                purpose, version, bits = row
                key = (list_id, version)
            cached = (purpose, bytes(bits))
            with self.cache.lock:
                self.cache.bits = {k: v for k, v in self.cache.bits.items() if k[0] != list_id}
                self.cache.bits[key] = cached
        return StatusListSnapshot(purpose=cached[0], bits=cached[1], fetched_at=self.now or _utcnow(),
                                  valid_until=None, url=url, issuer=self.registry_did)

    def status_versions_for(self, credential: dict | None) -> list[str]:
        """``listId:version`` of every status list the credential names (for ETags)."""
        out = []
        entries = (credential or {}).get("credentialStatus") or []
        for entry in entries if isinstance(entries, list) else []:
            list_id = self.list_id(entry.get("statusListCredential", "")) if isinstance(entry, dict) else None
            if list_id is not None:
                out.append(f"{list_id}:{self.versions().get(list_id, ('', 0))[1]}")
        return out


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(UTC)


def resolver(session: Session | Callable[[], Session], *, now: _dt.datetime | None = None,
             fingerprint: tuple | None = None) -> RegistryResolver:
    """A resolver for this request, sharing the app's caches."""
    cfg = current_app.config
    return RegistryResolver(session, cfg["PUBLIC_URL"], cache=cache_for(current_app),
                            trust_list_ttl=int(cfg["TRUST_LIST_TTL"]), now=now, fingerprint=fingerprint)


def own_link(text: str, public_url: str) -> str | None:
    """The certificate id when *text* is a plain verification link (no fragment) to this registry."""
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    url, hash_, fragment = stripped.partition("#")
    if fragment:
        return None
    link = parse_verification_link(url)
    if link is None:
        return None
    base, cert_id = link
    return cert_id if base.rstrip("/") == public_url.rstrip("/") else None


def stored_credential(session: Session, cert_id: str) -> str | None:
    if not isinstance(cert_id, str) or len(cert_id) > 36:
        return None
    return session.scalar(select(Certificate.credential).where(Certificate.id == cert_id))


def verify(session: Session, *, credential: str | None = None, qr: str | None = None,
           res: RegistryResolver | None = None) -> VerificationResult:
    """Verify a compact JWS or scanned QR text with :func:`verifier.verify_credential`.

    A plain link QR to this registry (``<base>/v/<id>`` without a credential fragment) is
    verified by the credential stored for that certificate; an unknown id is MALFORMED.
    """
    res = res or resolver(session)
    text = credential if credential is not None else qr
    if qr is not None:
        cert_id = own_link(qr, res.public_url)
        if cert_id is not None:
            stored = stored_credential(session, cert_id)
            if stored is None:
                return VerificationResult.failure(
                    "MALFORMED", f"the link names certificate {cert_id}, which this registry does not hold")
            text = stored
    return check_record(session, verify_credential(text, res, now=res.now), cache=res.cache)


#: Registry-only codes (a standalone verifier cannot know what the registry issued).
NOT_ISSUED = "NOT_ISSUED"
CONTENT_MISMATCH = "CONTENT_MISMATCH"
RECORD_CHECK = "record"


def _jws_parts(token: str) -> tuple[dict, dict] | None:
    try:
        head, payload, _ = token.split(".")
        return tuple(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                     for part in (head, payload))
    except (ValueError, binascii.Error):
        return None


def _record(session: Session, cert_id: str, cache: VerifyCache | None) -> tuple[dict, dict] | None:
    parts = cache.records.get(cert_id) if cache is not None else None
    if parts is None:
        stored = stored_credential(session, cert_id)
        parts = _jws_parts(stored) if stored is not None else None
        if parts is not None and cache is not None:  # never an unknown id: those could fill the cache
            cache.records.put(cert_id, parts)
    return parts


def check_record(session: Session, result: VerificationResult, *, cache: VerifyCache | None = None
                 ) -> VerificationResult:
    """Hold a well-formed credential against what this registry issued under its id.

    A signature proves only who signed: a body key can sign a credential the registry never
    recorded (an unknown id, a different benchmark, a backdated ``validFrom``). So the header and
    payload must equal those of the stored compact JWS; otherwise the result fails with
    ``NOT_ISSUED`` or ``CONTENT_MISMATCH``, put first so that it is the answer's ``code``.
    """
    signed = any(c.name == "signature" and c.ok for c in result.checks)
    if not signed or not isinstance(result.credential, dict):
        return result  # malformed or badly signed: refused already, and the claims mean nothing
    urn = result.credential.get("id")
    cert_id = urn[len("urn:uuid:"):].lower() if isinstance(urn, str) and urn.startswith("urn:uuid:") else None
    parts = _record(session, cert_id, cache) if cert_id else None
    if parts is None:
        code, ok, detail = NOT_ISSUED, False, f"this registry issued no credential with id {urn}"
    elif parts != (result.header, result.credential):
        code, ok, detail = CONTENT_MISMATCH, False, (f"the credential differs from the one this registry issued as {urn}"
                                                     f" (GET /api/v1/certificates/{cert_id} holds it)")
    else:
        code, ok, detail = None, True, f"matches the credential this registry issued as {urn}"
    result.checks.append(Check(RECORD_CHECK, ok, detail))
    if not ok:
        result.errors.insert(0, Error(code, detail))
        result.verified = False
    return result

