"""Unpacking what a person hands the verifier: a compact JWS, a scanned label, a verification link."""

from __future__ import annotations

import re
from typing import Any, Iterable

from . import offline
from ._errors import MalformedCredential, VerifierError
from ._jose import parse_compact

__all__ = ["MAX_INPUT_LENGTH", "extract_token", "parse_verification_link", "status_urls"]

#: Inputs longer than this are refused as MALFORMED before any parsing (a credential is ~1.5 kB).
MAX_INPUT_LENGTH = 64 * 1024

_LINK = re.compile(
    r"(?P<base>https?://[^\s#?]+?)/v/(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?(?:\?[^#\s]*)?(?:#(?P<frag>\S*))?"
)


def parse_verification_link(text: str) -> tuple[str, str] | None:
    """``(base_url, certificate_id)`` when *text* is a verification link ``<base>/v/<id>[#…]``, else None. Raises nothing."""
    if not isinstance(text, str):
        return None
    m = _LINK.fullmatch(text.strip())
    if not m:
        return None
    return m.group("base"), m.group("id").lower()


def extract_token(token_or_qr: Any) -> str:
    """The compact JWS in *token_or_qr* (a JWS or scanned QR text). Raises MalformedCredential."""
    if isinstance(token_or_qr, (bytes, bytearray)):
        try:
            token_or_qr = bytes(token_or_qr).decode("utf-8")
        except UnicodeDecodeError as err:
            raise MalformedCredential("input is not UTF-8 text") from err
    if not isinstance(token_or_qr, str):
        raise MalformedCredential(f"input must be text, not {type(token_or_qr).__name__}")
    if len(token_or_qr) > MAX_INPUT_LENGTH:
        raise MalformedCredential(f"input is longer than {MAX_INPUT_LENGTH} characters")
    text = token_or_qr.strip()
    if not text:
        raise MalformedCredential("input is empty")
    if text.count(".") == 2 and ":" not in text and "/" not in text:
        return text  # a compact JWS, or garbage that parse_compact will refuse
    try:
        jws = offline.extract_jws(text)
    except VerifierError:
        raise
    except (ValueError, ArithmeticError, LookupError, UnicodeError) as err:
        raise MalformedCredential(f"the QR code's offline credential could not be decoded: {err}") from err
    if jws:
        return jws
    link = parse_verification_link(text)
    if link is not None:
        base, cert_id = link
        raise MalformedCredential(
            "the code is a verification link, not a credential: it cannot be verified offline; "
            f"fetch the credential from the registry (GET {base}/api/v1/certificates/{cert_id}, "
            "member 'credential') and verify that"
        )
    raise MalformedCredential("input is neither a compact JWS nor a carbon label QR code")


def status_urls(token_or_qr: str) -> Iterable[str]:
    """The status list URLs a credential references, read without verifying it. Raises MalformedCredential."""
    compact = parse_compact(extract_token(token_or_qr))
    raw = compact.payload.get("credentialStatus")
    if isinstance(raw, dict):
        raw = [raw]
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("statusListCredential"), str):
            yield entry["statusListCredential"]
