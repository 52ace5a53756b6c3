"""Resolvers: where :func:`verifier.verify_credential` gets the trust list and status lists.

A resolver is any object with two methods (the :class:`Resolver` protocol):

* ``trust_list() -> TrustList`` — the verified trust list (issuers, accreditations, keys);
* ``status_list(url) -> StatusListSnapshot`` — a verified, decoded status list.

Both raise :class:`~verifier.StatusUnavailable` (the trust list:
:class:`~verifier.TrustListUnavailable`) when the information cannot be obtained or
does not verify. A resolver may also carry a ``signature_cache``
(:class:`~verifier.SignatureCache`).

Three implementations:

* :class:`StaticResolver` — in memory, from a :class:`~verifier.TrustList` and snapshots
  (or from their signed JWS). For servers that already hold the data, tests and benchmarks.
* :class:`HttpResolver` — fetches from a registry over HTTP(S), caching in memory and
  optionally on disk, honouring ``Cache-Control: max-age`` and ``ETag``/``If-None-Match``.
* :class:`OfflineResolver` — reads what :func:`save_for_offline` saved in a directory, and
  reports how old it is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import inspect
import json
import os
import re
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from ._base import format_time, parse_time, utcnow
from ._errors import (
    InputError,
    StatusUnavailable,
    TrustListUnavailable,
    UnknownKey,
)
from ._input import status_urls
from ._jose import SignatureCache
from ._statuslist import LIST_SIZE, decode_list
from ._trust import TrustList, status_purposes, verify_status_list_credential, verify_trust_list

__all__ = [
    "Resolver",
    "StatusListSnapshot",
    "Fetch",
    "urllib_fetch",
    "snapshot_from_jws",
    "StaticResolver",
    "HttpResolver",
    "OfflineResolver",
    "save_for_offline",
    "did_web_url",
    "DEFAULT_MAX_AGE",
]

UTC = _dt.timezone.utc

#: Freshness (seconds) given to a response without ``Cache-Control: max-age``.
DEFAULT_MAX_AGE = 300
#: Largest response body the default fetch reads.
MAX_RESPONSE_BYTES = 4 << 20

#: ``fetch(url, request_headers) -> (status, response_headers, body)``; network failures raise OSError.
Fetch = Callable[[str, Mapping[str, str]], "tuple[int, Mapping[str, str], bytes]"]


@dataclass(frozen=True, slots=True)
class StatusListSnapshot:
    """A verified, decoded status list as of ``fetched_at``.

    ``valid_until`` is the status list credential's own ``validUntil`` (None: none given);
    verification treats a list past it as unavailable. A list may serve several purposes
    (Bitstring Status List §2.2: ``statusPurpose`` is one or more strings): ``purposes`` then
    holds them all and ``purpose`` the first.
    """

    purpose: str
    bits: bytes
    fetched_at: _dt.datetime
    valid_until: _dt.datetime | None = None
    url: str | None = None
    issuer: str | None = None
    purposes: tuple[str, ...] = ()

    def serves(self, purpose: str) -> bool:
        """Whether a ``credentialStatus`` entry of *purpose* may use this list. Raises nothing."""
        return purpose in (self.purposes or (self.purpose,))

    def age(self, now: _dt.datetime | None = None) -> _dt.timedelta:
        """How old the snapshot is at *now*. Raises nothing."""
        return (now or utcnow()) - self.fetched_at


@runtime_checkable
class Resolver(Protocol):
    """What :func:`verifier.verify_credential` needs from its environment."""

    def trust_list(self) -> TrustList:
        """The verified trust list. Raises TrustListUnavailable."""
        ...

    def status_list(self, url: str) -> StatusListSnapshot:
        """The verified status list published at *url*. Raises StatusUnavailable."""
        ...


def snapshot_from_jws(
    jws: str | bytes,
    registry_jwks: Mapping[str, Any],
    *,
    url: str,
    fetched_at: _dt.datetime | None = None,
    now: _dt.datetime | None = None,
) -> StatusListSnapshot:
    """Verify a status list credential (registry signature) and decode its bitstring.

    Raises:
        StatusUnavailable: the JWS does not verify, is expired, is not the list at *url*, or
            its ``encodedList`` is invalid or shorter than :data:`~verifier.LIST_SIZE`.
    """
    now = now or utcnow()
    payload = verify_status_list_credential(jws, registry_jwks, url=url, now=now)
    subject = payload["credentialSubject"]
    try:
        bits = decode_list(subject["encodedList"])
    except ValueError as err:
        raise StatusUnavailable(f"status list {url}: {err}") from err
    if len(bits) * 8 < LIST_SIZE:
        raise StatusUnavailable(f"status list {url} has {len(bits) * 8} entries, fewer than {LIST_SIZE}")
    valid_until = parse_time(payload["validUntil"]) if payload.get("validUntil") else None
    purposes = status_purposes(subject)
    return StatusListSnapshot(
        purpose=purposes[0],
        purposes=purposes,
        bits=bits,
        fetched_at=fetched_at or now,
        valid_until=valid_until,
        url=url,
        issuer=payload.get("issuer"),
    )


def _make_cache(size: int) -> SignatureCache | None:
    return SignatureCache(size) if size > 0 else None


# --------------------------------------------------------------------------------------------
# In memory


class StaticResolver:
    """A resolver over data held in memory: no I/O, nothing re-verified per call."""

    def __init__(
        self,
        trust_list: TrustList,
        status_lists: Mapping[str, StatusListSnapshot] | Iterable[StatusListSnapshot] = (),
        *,
        signature_cache_size: int = 1024,
        now: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        """Serve *trust_list* and *status_lists* (a ``{url: snapshot}`` mapping or snapshots with ``url``).

        Raises:
            ValueError: a snapshot given without a mapping key has no ``url``.
        """
        self._trust = trust_list
        self._now = now or utcnow
        self._status: dict[str, StatusListSnapshot] = {}
        items = status_lists.items() if isinstance(status_lists, Mapping) else (
            (s.url, s) for s in status_lists)
        for url, snap in items:
            if not url:
                raise ValueError("a status list snapshot needs a url")
            self._status[url] = snap
        self.signature_cache = _make_cache(signature_cache_size)

    @classmethod
    def from_jws(
        cls,
        *,
        registry_jwks: Mapping[str, Any],
        trust_list_jws: str,
        status_list_jws: Mapping[str, str] | None = None,
        now: _dt.datetime | None = None,
        signature_cache_size: int = 1024,
    ) -> "StaticResolver":
        """Verify a signed trust list and status lists once and serve them from memory.

        Raises:
            TrustListUnavailable: the trust list does not verify or has expired.
            StatusUnavailable: a status list does not verify.
        """
        now = now or utcnow()
        trust = verify_trust_list(trust_list_jws, registry_jwks, now=now)
        snaps = {url: snapshot_from_jws(jws, registry_jwks, url=url, fetched_at=now, now=now)
                 for url, jws in (status_list_jws or {}).items()}
        return cls(trust, snaps, signature_cache_size=signature_cache_size)

    def add_status_list(self, snapshot: StatusListSnapshot, url: str | None = None) -> None:
        """Serve (or replace) a status list. Raises ValueError without a url."""
        url = url or snapshot.url
        if not url:
            raise ValueError("a status list snapshot needs a url")
        self._status[url] = snapshot

    def trust_list(self) -> TrustList:
        """The trust list given.

        Raises:
            TrustListUnavailable: it has expired.
        """
        if self._trust.expired(self._now()):
            raise TrustListUnavailable(f"trust list expired at {format_time(self._trust.expires_at)}")
        return self._trust

    def status_list(self, url: str) -> StatusListSnapshot:
        """The snapshot for *url*.

        Raises:
            StatusUnavailable: none was given for *url*.
        """
        try:
            return self._status[url]
        except KeyError:
            raise StatusUnavailable(f"status list {url} is not available") from None


# --------------------------------------------------------------------------------------------
# HTTP


def urllib_fetch(url: str, headers: Mapping[str, str] | None = None, *, timeout: float = 10.0,
                 max_bytes: int = MAX_RESPONSE_BYTES) -> tuple[int, dict[str, str], bytes]:
    """GET *url* with urllib: ``(status, lower-cased headers, body)``; HTTP errors are returned, not raised.

    Raises:
        OSError: network failure, timeout, a non-http(s) URL, or a body over *max_bytes*.
    """
    if not url.startswith(("https://", "http://")):
        raise OSError(f"refusing to fetch a non-HTTP URL: {url}")
    req = urllib.request.Request(url, headers={"User-Agent": "carbon-verify", **(headers or {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http(s) only, checked above)
    except urllib.error.HTTPError as err:
        with err:
            body = err.read(max_bytes + 1) if err.fp is not None else b""
            return err.code, {k.lower(): v for k, v in err.headers.items()}, body
    except urllib.error.URLError as err:
        raise OSError(f"GET {url}: {err.reason}") from err
    with resp:
        body = resp.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise OSError(f"GET {url}: response larger than {max_bytes} bytes")
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, body


@dataclass(slots=True)
class _Entry:
    url: str
    body: bytes
    etag: str | None
    fetched_at: float
    fresh_until: float
    store: bool = True


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.I)


def _freshness(headers: Mapping[str, str], default: int) -> tuple[int, bool]:
    """(seconds fresh, may store) from Cache-Control / Age."""
    cc = headers.get("cache-control", "")
    lowered = cc.lower()
    store = "no-store" not in lowered
    if "no-cache" in lowered or not store:
        return 0, store
    m = _MAX_AGE.search(cc)
    seconds = int(m.group(1)) if m else default
    try:
        seconds -= int(headers.get("age", "0") or 0)
    except ValueError:
        pass
    return max(seconds, 0), store


def _adapt_fetch(fetch: Callable) -> Fetch:
    """Accept ``fetch(url)`` as well as ``fetch(url, headers)`` (the former cannot revalidate)."""
    try:
        params = [p for p in inspect.signature(fetch).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return fetch
    if len(params) == 1 and params[0].kind is not params[0].VAR_POSITIONAL:
        return lambda url, headers: fetch(url)
    return fetch


def did_web_url(did: str) -> str:
    """The HTTPS URL of a ``did:web`` DID document (``did:web:host%3Aport:a:b`` → ``https://host:port/a/b/did.json``).

    Raises:
        ValueError: *did* is not a ``did:web`` DID.
    """
    if not did.startswith("did:web:") or len(did) <= 8:
        raise ValueError(f"not a did:web DID: {did!r}")
    parts = did[8:].split(":")
    host = urllib.parse.unquote(parts[0])
    path = "/".join(urllib.parse.unquote(p) for p in parts[1:])
    return f"https://{host}/{path}/did.json" if path else f"https://{host}/.well-known/did.json"


class HttpResolver:
    """Fetches the trust list, registry keys and status lists from a registry.

    * ``registry_jwks`` pins the registry's keys (a JWKS dict). When None, they are fetched
      from ``<registry>/.well-known/jwks.json`` over the same connection as the data they
      sign, which only protects against tampering if the URL is HTTPS and trusted: pin them
      where you can.
    * Responses are cached in memory (and under ``cache_dir`` when given) for their
      ``Cache-Control: max-age`` (``max_age`` when absent), then revalidated with
      ``If-None-Match``. When a refetch fails, the cached copy is used (and its fetch time is
      what the verification result reports). Verified objects are kept with the bytes they
      came from, so a trust list or status list is verified once per change, not per call.
    * Status lists are fetched only from ``<registry>/status/…`` (or the prefixes in
      ``allowed_status_prefixes``): a credential cannot make the resolver fetch other URLs.
    * ``fetch`` replaces the network (``fetch(url, headers) -> (status, headers, body)``).
    """

    def __init__(
        self,
        registry_url: str,
        *,
        registry_jwks: Mapping[str, Any] | None = None,
        trust_list_url: str | None = None,
        trust_list_jws: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        fetch: Fetch | None = None,
        max_age: int = DEFAULT_MAX_AGE,
        timeout: float = 10.0,
        signature_cache_size: int = 1024,
        allowed_status_prefixes: Iterable[str] | None = None,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        """Resolve against the registry at *registry_url* (e.g. ``https://labels.example.org``).

        *trust_list_jws* uses a trust list read from a file instead of fetching one. *fetch*
        is ``fetch(url, headers) -> (status, headers, body)`` (or ``fetch(url)``, which then
        cannot send ``If-None-Match``); it raises ``OSError`` for network failures. *clock*
        returns the current time (for tests).

        Raises:
            ValueError: *registry_url* is not an http(s) URL.
        """
        if not registry_url.startswith(("https://", "http://")):
            raise ValueError(f"registry URL must be http(s): {registry_url!r}")
        self.registry_url = registry_url.rstrip("/")
        self.trust_list_url = trust_list_url or f"{self.registry_url}/trust-list"
        self.jwks_url = f"{self.registry_url}/.well-known/jwks.json"
        self._pinned_jwks = dict(registry_jwks) if registry_jwks is not None else None
        self._trust_list_jws = trust_list_jws.strip() if trust_list_jws else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._fetch: Fetch = _adapt_fetch(fetch) if fetch else (
            lambda url, headers: urllib_fetch(url, headers, timeout=timeout))
        self.max_age = max_age
        self._clock = clock or utcnow
        self._prefixes = tuple(allowed_status_prefixes or (f"{self.registry_url}/status/",))
        self._entries: dict[str, _Entry] = {}
        self._trust: tuple[bytes, TrustList] | None = None
        self._jwks: tuple[bytes, dict] | None = None
        self._status: dict[str, tuple[bytes, StatusListSnapshot]] = {}
        self._lock = threading.RLock()
        self.signature_cache = _make_cache(signature_cache_size)

    # -- low level ---------------------------------------------------------------------------

    def _disk_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:40] + ".json")

    def _load_disk(self, url: str) -> _Entry | None:
        path = self._disk_path(url)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.get("url") != url:
                return None
            return _Entry(url, base64.b64decode(data["body"]), data.get("etag"),
                          float(data["fetchedAt"]), float(data["freshUntil"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save_disk(self, entry: _Entry) -> None:
        path = self._disk_path(entry.url)
        if path is None or not entry.store:
            return
        data = {"url": entry.url, "etag": entry.etag, "fetchedAt": entry.fetched_at,
                "freshUntil": entry.fresh_until, "body": base64.b64encode(entry.body).decode()}
        try:
            _atomic_write(path, json.dumps(data).encode())
        except OSError:
            pass  # a cache that cannot be written is only slower

    def _get(self, url: str, accept: str, *, force: bool = False) -> _Entry:
        """The (possibly cached) response body for *url*. Raises StatusUnavailable."""
        now = self._clock().timestamp()
        entry = self._entries.get(url)
        if entry is not None and not force and now < entry.fresh_until:
            return entry
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                entry = self._load_disk(url)
                if entry is not None:
                    self._entries[url] = entry
                    if not force and now < entry.fresh_until:
                        return entry
            headers = {"Accept": accept}
            if entry is not None and entry.etag:
                headers["If-None-Match"] = entry.etag
            try:
                status, resp_headers, body = self._fetch(url, headers)
            except OSError as err:
                if entry is not None:
                    return entry  # stale-if-error: the result reports its fetch time
                raise StatusUnavailable(f"GET {url} failed: {err}") from err
            resp_headers = {k.lower(): v for k, v in resp_headers.items()}
            seconds, store = _freshness(resp_headers, self.max_age)
            if status == 304 and entry is not None:
                entry.fetched_at, entry.fresh_until = now, now + seconds
                self._save_disk(entry)
                return entry
            if status != 200:
                if entry is not None and status >= 500:
                    return entry
                raise StatusUnavailable(f"GET {url}: HTTP {status}")
            entry = _Entry(url, body, resp_headers.get("etag"), now, now + seconds, store)
            self._entries[url] = entry
            self._save_disk(entry)
            return entry

    def _fetched_at(self, entry: _Entry) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(entry.fetched_at, UTC)

    # -- registry keys -----------------------------------------------------------------------

    def registry_jwks(self, *, refresh: bool = False) -> dict:
        """The registry JWKS: the pinned one, or ``<registry>/.well-known/jwks.json``.

        Raises:
            TrustListUnavailable: it cannot be fetched or is not a JWKS.
        """
        if self._pinned_jwks is not None:
            return self._pinned_jwks
        try:
            entry = self._get(self.jwks_url, "application/jwk-set+json, application/json", force=refresh)
        except StatusUnavailable as err:
            raise TrustListUnavailable(f"registry keys unavailable: {err}") from err
        if self._jwks is not None and self._jwks[0] is entry.body:
            return self._jwks[1]
        try:
            jwks = json.loads(entry.body)
        except ValueError as err:
            raise TrustListUnavailable(f"registry keys at {self.jwks_url} are not JSON") from err
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise TrustListUnavailable(f"registry keys at {self.jwks_url} are not a JWKS")
        self._jwks = (entry.body, jwks)
        return jwks

    def _with_jwks(self, verify: Callable[[dict], Any]) -> Any:
        """Run *verify* with the registry JWKS, refetching it once if the signing key is unknown."""
        try:
            return verify(self.registry_jwks())
        except StatusUnavailable as err:
            if self._pinned_jwks is not None or not isinstance(err.__cause__, UnknownKey):
                raise
            return verify(self.registry_jwks(refresh=True))

    # -- trust list --------------------------------------------------------------------------

    def trust_list_jws(self) -> str:
        """The current signed trust list, verified.

        Raises:
            TrustListUnavailable: cannot be fetched, does not verify, or has expired.
        """
        self.trust_list()
        if self._trust_list_jws is not None:
            return self._trust_list_jws
        return self._entries[self.trust_list_url].body.decode("ascii").strip()

    def trust_list(self) -> TrustList:
        """The verified trust list (verified once per change of its bytes).

        Raises:
            TrustListUnavailable: cannot be fetched, does not verify, or has expired.
        """
        now = self._clock()
        if self._trust_list_jws is not None:
            body = self._trust_list_jws.encode("ascii", "replace")
        else:
            try:
                body = self._get(self.trust_list_url, "application/jwt").body
            except StatusUnavailable as err:
                raise TrustListUnavailable(f"trust list unavailable: {err}") from err
        cached = self._trust
        if cached is not None and (cached[0] is body or cached[0] == body):
            trust = cached[1]
            if trust.expired(now):
                raise TrustListUnavailable(
                    f"trust list expired at {format_time(trust.expires_at)}; the registry has no newer one")
            return trust
        with self._lock:
            trust = self._with_jwks(lambda jwks: verify_trust_list(body, jwks, now=now))
            self._trust = (body, trust)
        return trust

    # -- status lists ------------------------------------------------------------------------

    def _check_status_url(self, url: str) -> None:
        if not url.startswith(self._prefixes):
            raise StatusUnavailable(
                f"status list {url} is not published by the registry {self.registry_url}")

    def status_list(self, url: str) -> StatusListSnapshot:
        """The verified status list at *url* (verified and decoded once per change of its bytes).

        Raises:
            StatusUnavailable: not a registry URL, cannot be fetched, or does not verify.
        """
        self._check_status_url(url)
        entry = self._get(url, "application/vc+jwt")
        cached = self._status.get(url)
        fetched_at = self._fetched_at(entry)
        if cached is not None and (cached[0] is entry.body or cached[0] == entry.body):
            snap = cached[1]
            if snap.fetched_at != fetched_at:
                snap = replace(snap, fetched_at=fetched_at)
                self._status[url] = (entry.body, snap)
            return snap
        now = self._clock()
        with self._lock:
            snap = self._with_jwks(lambda jwks: snapshot_from_jws(
                entry.body, jwks, url=url, fetched_at=fetched_at, now=now))
            self._status[url] = (entry.body, snap)
        return snap

    def status_list_jws(self, url: str) -> str:
        """The signed status list at *url*, verified.

        Raises:
            StatusUnavailable: as :meth:`status_list`.
        """
        self.status_list(url)
        return self._status[url][0].decode("ascii").strip()

    def status_index(self) -> list[str]:
        """The status list URLs the registry lists at ``GET <registry>/status`` (``{"lists": [...]}``).

        Raises:
            StatusUnavailable: the index cannot be fetched or is not of that shape.
        """
        url = f"{self.registry_url}/status"
        entry = self._get(url, "application/json")
        try:
            data = json.loads(entry.body)
            lists = data["lists"]
            if not isinstance(lists, list) or not all(isinstance(u, str) for u in lists):
                raise TypeError("lists must be a list of URLs")
        except (ValueError, KeyError, TypeError) as err:
            raise StatusUnavailable(f"status index {url} is not {{\"lists\": [...]}}: {err}") from err
        return lists

    # -- certificates and DID documents --------------------------------------------------------

    def fetch_credential(self, certificate_id: str) -> str:
        """The compact JWS of a certificate, from ``GET <registry>/api/v1/certificates/<id>`` (member ``credential``).

        Nothing is verified here.

        Raises:
            InputError: the registry has no such certificate (HTTP 404/410).
            StatusUnavailable: the registry cannot be reached or answers unexpectedly.
        """
        url = f"{self.registry_url}/api/v1/certificates/{urllib.parse.quote(certificate_id)}"
        try:
            status, _, body = self._fetch(url, {"Accept": "application/json"})
        except OSError as err:
            raise StatusUnavailable(f"GET {url} failed: {err}") from err
        if status in (404, 410):
            raise InputError(f"the registry {self.registry_url} has no certificate {certificate_id}")
        if status != 200:
            raise StatusUnavailable(f"GET {url}: HTTP {status}")
        try:
            credential = json.loads(body)["credential"]
            if not isinstance(credential, str):
                raise TypeError("credential is not a string")
        except (ValueError, KeyError, TypeError) as err:
            raise StatusUnavailable(f"GET {url}: no 'credential' in the response ({err})") from err
        return credential

    def did_document(self, did: str) -> dict:
        """A body's ``did:web`` document (informational: keys are taken from the signed trust list).

        Only DIDs of this registry's host are fetched, over the registry's scheme.

        Raises:
            StatusUnavailable: not a DID of this registry, or it cannot be fetched or parsed.
        """
        try:
            url = did_web_url(did)
        except ValueError as err:
            raise StatusUnavailable(str(err)) from err
        registry = urllib.parse.urlsplit(self.registry_url)
        parsed = urllib.parse.urlsplit(url)
        if parsed.netloc != registry.netloc:
            raise StatusUnavailable(f"{did} is not a DID of the registry {self.registry_url}")
        url = urllib.parse.urlunsplit((registry.scheme,) + tuple(parsed)[1:])
        entry = self._get(url, "application/did+ld+json, application/did+json, application/json")
        try:
            doc = json.loads(entry.body)
        except ValueError as err:
            raise StatusUnavailable(f"DID document {url} is not JSON") from err
        if not isinstance(doc, dict) or doc.get("id") != did:
            raise StatusUnavailable(f"DID document {url} is not the document of {did}")
        return doc


# --------------------------------------------------------------------------------------------
# Offline


MANIFEST = "manifest.json"
JWKS_FILE = "jwks.json"
TRUST_LIST_FILE = "trust-list.jwt"
STATUS_DIR = "status"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _list_file(url: str) -> str:
    list_id = url.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", list_id) or list_id.startswith("."):
        list_id = hashlib.sha256(url.encode()).hexdigest()[:32]
    return f"{STATUS_DIR}/{list_id}.jwt"


class OfflineResolver:
    """Reads what :func:`save_for_offline` saved: ``jwks.json``, ``trust-list.jwt``,
    ``status/<listId>.jwt`` and ``manifest.json`` (which records the registry URL and when each
    file was fetched). Nothing is fetched. Verification results report the status lists' fetch
    time (``statusAsOf``) so the reader knows how old the status information is; expired trust
    lists and status lists are refused as they would be online.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        registry_jwks: Mapping[str, Any] | None = None,
        trust_list_jws: str | None = None,
        signature_cache_size: int = 1024,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        """Use the offline data in *directory* (optionally overriding its keys or trust list).

        Raises nothing; missing files are reported when used (TrustListUnavailable /
        StatusUnavailable).
        """
        self.directory = Path(directory)
        self._clock = clock or utcnow
        self._override_jwks = registry_jwks
        self._override_trust = trust_list_jws
        self._manifest: dict | None = None
        self._jwks: dict | None = None
        self._trust: TrustList | None = None
        self._status: dict[str, StatusListSnapshot] = {}
        self.signature_cache = _make_cache(signature_cache_size)

    @property
    def manifest(self) -> dict:
        """The saved manifest (``{}`` when there is none). Raises nothing."""
        if self._manifest is None:
            try:
                self._manifest = json.loads((self.directory / MANIFEST).read_text("utf-8"))
                if not isinstance(self._manifest, dict):
                    self._manifest = {}
            except (OSError, ValueError):
                self._manifest = {}
        return self._manifest

    @property
    def registry_url(self) -> str | None:
        """The registry the data was saved from, if recorded. Raises nothing."""
        return self.manifest.get("registry")

    @property
    def saved_at(self) -> _dt.datetime | None:
        """When the data was saved, if recorded. Raises nothing."""
        try:
            return parse_time(self.manifest.get("savedAt"))
        except ValueError:
            return None

    def _fetched_at(self, info: Any, path: Path) -> _dt.datetime:
        if isinstance(info, dict):
            try:
                return parse_time(info.get("fetchedAt"))
            except ValueError:
                pass
        return _dt.datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def _missing(self, what: str) -> str:
        return (f"{what} is not in the offline data at {self.directory}; save it first with "
                f"carbon-verify --save-offline {self.directory} --registry URL")

    def registry_jwks(self) -> dict:
        """The saved (or overriding) registry JWKS.

        Raises:
            TrustListUnavailable: missing or not a JWKS.
        """
        if self._override_jwks is not None:
            return dict(self._override_jwks)
        if self._jwks is None:
            path = self.directory / JWKS_FILE
            try:
                jwks = json.loads(path.read_text("utf-8"))
            except FileNotFoundError:
                raise TrustListUnavailable(self._missing("the registry key set (jwks.json)")) from None
            except (OSError, ValueError) as err:
                raise TrustListUnavailable(f"{path} is not readable JSON: {err}") from err
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise TrustListUnavailable(f"{path} is not a JWKS")
            self._jwks = jwks
        return self._jwks

    def trust_list(self) -> TrustList:
        """The saved trust list, verified once against the saved registry keys.

        Raises:
            TrustListUnavailable: missing, does not verify, or has expired (refresh it with
                ``carbon-verify --save-offline``).
        """
        now = self._clock()
        if self._trust is None:
            if self._override_trust is not None:
                jws = self._override_trust
            else:
                try:
                    jws = (self.directory / TRUST_LIST_FILE).read_text("ascii")
                except FileNotFoundError:
                    raise TrustListUnavailable(self._missing("the trust list")) from None
                except (OSError, UnicodeDecodeError) as err:
                    raise TrustListUnavailable(f"cannot read the saved trust list: {err}") from err
            self._trust = verify_trust_list(jws, self.registry_jwks(), now=now)
        elif self._trust.expired(now):
            raise TrustListUnavailable(
                f"the saved trust list expired at {format_time(self._trust.expires_at)}; "
                f"refresh it with carbon-verify --save-offline {self.directory}")
        return self._trust

    def status_list(self, url: str) -> StatusListSnapshot:
        """The saved status list for *url*, verified once; ``fetched_at`` is when it was saved.

        Raises:
            StatusUnavailable: not saved, does not verify, or has expired.
        """
        snap = self._status.get(url)
        if snap is not None:
            return snap
        info = (self.manifest.get("statusLists") or {}).get(url)
        if isinstance(info, dict) and isinstance(info.get("file"), str):
            rel = info["file"]
        else:
            registry = self.registry_url
            if registry and not url.startswith(registry.rstrip("/") + "/status/"):
                raise StatusUnavailable(self._missing(f"status list {url}"))
            rel = _list_file(url)
        path = (self.directory / rel).resolve()
        if self.directory.resolve() not in path.parents:
            raise StatusUnavailable(f"status list file {rel} is outside {self.directory}")
        try:
            jws = path.read_text("ascii")
        except FileNotFoundError:
            raise StatusUnavailable(self._missing(f"status list {url}")) from None
        except (OSError, UnicodeDecodeError) as err:
            raise StatusUnavailable(f"cannot read the saved status list {path}: {err}") from err
        try:
            jwks = self.registry_jwks()
        except TrustListUnavailable as err:
            raise StatusUnavailable(str(err)) from err
        snap = snapshot_from_jws(jws, jwks, url=url, fetched_at=self._fetched_at(info, path),
                                 now=self._clock())
        self._status[url] = snap
        return snap


def save_for_offline(
    source: "HttpResolver | str",
    directory: str | os.PathLike[str],
    *,
    credentials: Iterable[str] = (),
    registry_jwks: Mapping[str, Any] | None = None,
    fetch: Fetch | None = None,
    include_index: bool = True,
) -> dict:
    """Save what offline verification needs into *directory*; return the manifest written.

    Saves the registry key set (``jwks.json``), the verified trust list (``trust-list.jwt``)
    and, under ``status/``, every status list that is (a) listed by the registry's index
    ``GET <registry>/status`` (``{"lists": [url, …]}``; skipped if the registry has none),
    (b) referenced by one of *credentials* (compact JWS or QR text; read, not verified), or
    (c) already saved in *directory* (so saving again refreshes). Everything is verified
    before it is written; ``manifest.json`` records the registry and each file's fetch time.

    *source* is an :class:`HttpResolver` or a registry URL (then *registry_jwks* and *fetch*
    configure the resolver made for it).

    Raises:
        TrustListUnavailable: the registry keys or trust list cannot be fetched or verified.
        StatusUnavailable: a status list cannot be fetched or verified.
        MalformedCredential: one of *credentials* cannot be read.
        OSError: *directory* cannot be written.
    """
    resolver = source if isinstance(source, HttpResolver) else HttpResolver(
        source, registry_jwks=registry_jwks, fetch=fetch)
    directory = Path(directory)
    previous = OfflineResolver(directory).manifest
    jwks = resolver.registry_jwks()
    trust_jws = resolver.trust_list_jws()
    trust = resolver.trust_list()
    now = utcnow()

    urls: list[str] = []

    def want(url: str) -> None:
        if url not in urls:
            urls.append(url)

    if include_index:
        try:
            for url in resolver.status_index():
                want(url)
        except StatusUnavailable:
            pass  # the registry publishes no index: save only what credentials reference
    for text in credentials:
        for url in status_urls(text):
            want(url)
    if previous.get("registry") == resolver.registry_url:
        for url in (previous.get("statusLists") or {}):
            if isinstance(url, str) and url.startswith(resolver._prefixes):
                want(url)

    saved: dict[str, dict] = {}
    for url in urls:
        jws = resolver.status_list_jws(url)
        snap = resolver.status_list(url)
        rel = _list_file(url)
        _atomic_write(directory / rel, jws.encode("ascii") + b"\n")
        saved[url] = {"file": rel, "fetchedAt": format_time(snap.fetched_at), "purpose": snap.purpose,
                      "validUntil": format_time(snap.valid_until) if snap.valid_until else None}

    _atomic_write(directory / JWKS_FILE, json.dumps(jwks, indent=2).encode() + b"\n")
    _atomic_write(directory / TRUST_LIST_FILE, trust_jws.encode("ascii") + b"\n")
    manifest = {
        "format": 1,
        "registry": resolver.registry_url,
        "savedAt": format_time(now),
        "jwks": {"file": JWKS_FILE, "fetchedAt": format_time(now), "pinned": resolver._pinned_jwks is not None},
        "trustList": {"file": TRUST_LIST_FILE, "fetchedAt": format_time(now),
                      "issuedAt": format_time(trust.issued_at) if trust.issued_at else None,
                      "expiresAt": format_time(trust.expires_at) if trust.expires_at else None},
        "statusLists": saved,
    }
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")
    return manifest
