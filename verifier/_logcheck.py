"""The credential's place in the registry's transparency log, as one more check of ``carbon-verify``.

Online, the registry's verification answer carries the issuance entry, its index and an
inclusion proof against a signed checkpoint; ``--save-offline`` keeps them (``log/<id>.json``)
so that the same check runs with ``--offline``. The log key is the one the verified trust list
names (``transparencyLog.key``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from . import _tlog as t
from ._credential import Check
from ._resolvers import TRUST_LIST_FILE, Fetch, urllib_fetch

CHECK_NAME = "log-inclusion"
LOG_DIR = "log"
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _payload(jws: str) -> dict:
    part = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def log_key_from_trust_list(jws: str) -> str | None:
    """The note verifier key the trust list names for the log, or None. Raises nothing."""
    try:
        return _payload(jws)["transparencyLog"]["key"]
    except (ValueError, IndexError, KeyError, TypeError):
        return None


def check_claim(claim: dict, credential_jws: str, key: str) -> Check:
    """Check a ``log`` claim for ``credential_jws``; a failure is a failed Check. Raises nothing."""
    try:
        event = json.loads(claim["entry"])
        cert_id = str(_payload(credential_jws).get("id", "")).removeprefix("urn:uuid:")
        if event.get("certificateId") != cert_id or event.get("kind") != "certificate.issued":
            raise t.LogProofInvalid("the log entry is not this credential's issuance")
        if event.get("sha256") != hashlib.sha256(credential_jws.encode()).hexdigest():
            raise t.LogProofInvalid("the log entry records another credential")
        cp = t.verify_log_claim(claim, t.leaf_hash(claim["entry"].encode()), key)
    except (t.LogProofInvalid, KeyError, TypeError, ValueError, AttributeError) as err:
        return Check(CHECK_NAME, False, f"not proven in the transparency log: {err}")
    return Check(CHECK_NAME, True, f"entry {claim['index']} of the log {cp.origin} (checkpoint of {cp.size} entries)")


def _credential_jws(text: str) -> str | None:
    found = _JWS.search(text or "")
    return found.group(0) if found else None


def _fetch_claim(registry: str, cert_id: str, fetch: Fetch) -> dict | None:
    url = f"{registry}/v/{cert_id}?format=json"
    try:
        status, _h, body = fetch(url, {"Accept": "application/json"})
    except TypeError:  # a fetch(url) that takes no headers
        status, _h, body = fetch(url)
    if status != 200:
        return None
    return json.loads(body).get("log")


def log_check(result: Any, text: str, resolver: Any, *, fetch: Fetch | None, offline: bool) -> Check:
    """The log-inclusion check for a verified (or not) credential; skipped when nothing to check. Raises nothing."""
    jws = _credential_jws(text)
    cred = result.credential if isinstance(result.credential, dict) else None
    if jws is None or cred is None:
        return Check(CHECK_NAME, False, "no credential to look up in the log", skipped=True)
    cert_id = str(cred.get("id", "")).removeprefix("urn:uuid:")
    try:
        if offline:
            directory = Path(resolver.directory)
            trust_jws = (directory / TRUST_LIST_FILE).read_text("utf-8")
            path = directory / LOG_DIR / f"{cert_id}.json"
            if not path.exists():
                return Check(CHECK_NAME, False, "no saved log proof for this credential", skipped=True)
            claim = json.loads(path.read_text("utf-8"))
        else:
            trust_jws = resolver.trust_list_jws()
            get = fetch or (lambda url, headers: urllib_fetch(url, headers, timeout=10))
            claim = _fetch_claim(resolver.registry_url, cert_id, get)
    except Exception as err:  # the check reports; it never breaks verification
        return Check(CHECK_NAME, False, f"the log could not be read: {err}", skipped=True)
    key = log_key_from_trust_list(trust_jws)
    if key is None or claim is None:
        return Check(CHECK_NAME, False, "the registry publishes no transparency log proof", skipped=True)
    return check_claim(claim, jws, key)


def save_claims(resolver: Any, target: Path, texts: list[str], *, fetch: Fetch | None) -> int:
    """Save the log claims of ``texts`` (checked first) under ``target/log``; returns how many.

    Raises OSError when ``target`` cannot be written; a proof that cannot be fetched is left out.
    """
    get = fetch or (lambda url, headers: urllib_fetch(url, headers, timeout=10))
    key = log_key_from_trust_list(resolver.trust_list_jws())
    saved = 0
    for text in texts:
        jws = _credential_jws(text)
        if jws is None or key is None:
            continue
        try:
            cert_id = str(_payload(jws).get("id", "")).removeprefix("urn:uuid:")
            claim = _fetch_claim(resolver.registry_url, cert_id, get)
        except (OSError, ValueError, AttributeError):  # no proof to keep; the rest is saved
            continue
        if claim is None or not check_claim(claim, jws, key).ok:
            continue
        (Path(target) / LOG_DIR).mkdir(parents=True, exist_ok=True)
        (Path(target) / LOG_DIR / f"{cert_id}.json").write_text(json.dumps(claim, ensure_ascii=False), "utf-8")
        saved += 1
    return saved
