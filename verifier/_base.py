"""Vocabulary and time helpers shared by every layer of the verifier (standard library only)."""

from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import Any

__all__ = [
    "UTC",
    "KIND_TYPES",
    "TYPE_KINDS",
    "VC_CONTEXT",
    "CONTEXT_PATH",
    "STATUS_PURPOSES",
    "SUBJECT_TYPE",
    "STATUS_ENTRY_TYPE",
    "context_url",
    "as_utc",
    "format_time",
    "parse_time",
    "utcnow",
]

UTC = _dt.timezone.utc

#: Certificate kind (``credentialSubject.certificateType``) → second credential ``type``.
KIND_TYPES: dict[str, str] = {
    "carbon-footprint": "CarbonFootprintCertificate",
    "low-carbon": "LowCarbonCertificate",
    "reduced-carbon": "ReducedCarbonCertificate",
    "carbon-neutral": "CarbonNeutralCertificate",
}
#: The reverse of :data:`KIND_TYPES`.
TYPE_KINDS: dict[str, str] = {v: k for k, v in KIND_TYPES.items()}

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CONTEXT_PATH = "/contexts/carbon-label/v1"
STATUS_PURPOSES = ("revocation", "suspension")
SUBJECT_TYPE = "CarbonLabelledProduct"
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"


def context_url(public_url: str) -> str:
    """The carbon-label JSON-LD context URL of the registry at *public_url*. Raises nothing."""
    return public_url.rstrip("/") + CONTEXT_PATH


# --------------------------------------------------------------------------------------------
# Time


def as_utc(dt: _dt.datetime) -> _dt.datetime:
    """*dt* in UTC; a naive datetime is taken to be UTC. Raises nothing."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _format_time_cached(dt: _dt.datetime) -> str:
    return as_utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time(dt: _dt.datetime) -> str:
    """Format *dt* as RFC 3339 UTC with a ``Z`` suffix and whole seconds (fractions are cut).

    A naive datetime is taken to be UTC (what SQLite hands back for UTC columns).

    Raises:
        TypeError: *dt* is not a :class:`datetime.datetime`.
    """
    if not isinstance(dt, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    return _format_time_cached(dt)


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


@functools.lru_cache(maxsize=4096)
def _parse_time_cached(value: str) -> _dt.datetime:
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"not an RFC 3339 date-time with a time zone: {value!r}")
    text = value
    if "." in text:  # fromisoformat takes at most 6 fraction digits
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest).group(0)  # type: ignore[union-attr]
        text = head + "." + digits[:6].ljust(6, "0") + rest[len(digits):]
    try:
        return _dt.datetime.fromisoformat(text.upper()).astimezone(UTC)
    except OverflowError as err:  # e.g. 9999-12-31T23:59:59-01:00 lies past the calendar in UTC
        raise ValueError(f"date-time outside the representable range: {value!r}") from err


def parse_time(value: Any) -> _dt.datetime:
    """Parse an RFC 3339 date-time with a time zone (``Z`` or an offset) into an aware UTC datetime.

    Raises:
        ValueError: *value* is not a string in RFC 3339 date-time form (a date alone, or a
            time without a zone, is refused), or it lies outside years 1–9999 once in UTC.
    """
    if not isinstance(value, str):
        raise ValueError(f"not an RFC 3339 date-time string: {value!r}")
    return _parse_time_cached(value)


def utcnow() -> _dt.datetime:
    """The current time, aware, in UTC. Raises nothing."""
    return _dt.datetime.now(UTC)

