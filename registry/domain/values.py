"""Plain-data helpers shared by the certification rules: decimals, times, field errors."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from verifier.grading import format_decimal

from ..errors import InvalidInput

__all__ = ["FieldErrors", "decimal_of", "decimal_str", "parse_time", "time_str", "require_aware",
           "sum_tolerance", "SUM_RELATIVE_TOLERANCE", "SUM_ABSOLUTE_TOLERANCE", "strip_urn"]

#: A breakdown (stages, gases) may differ from its total by the larger of these:
#: 0.5 % of the total, or 0.001 kg CO2e per declared unit (rounding of the parts).
SUM_RELATIVE_TOLERANCE = Decimal("0.005")
SUM_ABSOLUTE_TOLERANCE = Decimal("0.001")

_DECIMAL_RE = re.compile(r"^-?\d+(?:\.\d+)?$", re.ASCII)
_URN_UUID = "urn:uuid:"


def sum_tolerance(total: Decimal) -> Decimal:
    """How far a breakdown may be from ``total``: max(0.5 % of |total|, 0.001)."""
    return max(abs(total) * SUM_RELATIVE_TOLERANCE, SUM_ABSOLUTE_TOLERANCE)


def decimal_of(value, name: str = "value") -> Decimal:
    """A Decimal from a Decimal, an int or a plain decimal string (as stored).

    Raises:
        TypeError: a float, bool or other type (floats are lossy).
        ValueError: a string that is not a plain decimal, or a non-finite Decimal.
    """
    if type(value) is Decimal:  # what the schemas load: the common case first
        if not value.is_finite():
            raise ValueError(f"{name} must be finite")
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal or a decimal string, not {type(value).__name__}")
    if isinstance(value, str):
        if not _DECIMAL_RE.fullmatch(value):
            raise ValueError(f"{name} is not a plain decimal string: {value!r}")
        return Decimal(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be finite")
        return value
    raise TypeError(f"{name} must be a Decimal or a decimal string, not {type(value).__name__}")


def decimal_str(value) -> str:
    """A decimal as credentials carry it: no exponent, the given places kept."""
    return format_decimal(decimal_of(value))


def require_aware(value, name: str) -> datetime:
    """``value`` if it is a timezone-aware datetime; ``ValueError``/``TypeError`` otherwise."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def time_str(value: datetime) -> str:
    """RFC 3339 UTC with ``Z`` and whole seconds, as in credentials."""
    value = require_aware(value, "time")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value, name: str = "time") -> datetime:
    """An aware UTC datetime from a datetime or an RFC 3339 string with an offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as err:
            raise ValueError(f"{name} is not an RFC 3339 date-time: {value!r}") from err
    try:
        return require_aware(value, name).astimezone(timezone.utc)
    except OverflowError as err:
        raise ValueError(f"{name} is outside the years 1 to 9999 in UTC: {value!r}") from err


def strip_urn(certificate_id: str) -> str:
    """A certificate id without a ``urn:uuid:`` prefix, lower-cased."""
    text = str(certificate_id).strip()
    if text.lower().startswith(_URN_UUID):
        text = text[len(_URN_UUID):]
    return text.lower()


class FieldErrors:
    """Collects ``{"dotted.path": [messages]}`` and raises them as one 422."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, *, type: str = "invalid-input", detail: str | None = None) -> None:
        """Raise :class:`~registry.errors.InvalidInput` with the collected errors, if any."""
        if not self.errors:
            return
        if detail is None:
            parts = [f"{path}: {'; '.join(messages)}" for path, messages in self.errors.items()]
            detail = " | ".join(parts)
        raise InvalidInput(detail, type=type, errors=self.errors)

