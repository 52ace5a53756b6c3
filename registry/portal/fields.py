"""Certificate requests as flat, dotted fields: the issue forms and the spreadsheet columns.

A form input or a spreadsheet column is named by the API's field path (``product.name``,
``footprint.stages.manufacturing``, ``offsets.0.quantity``), so a request built from either
goes through ``CertificateIn`` and the issuing service exactly as a JSON request does, and
every error the API reports by path lands on the input or cell of that path.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from ..schemas.certificates import GASES, STAGES

PRODUCT = ("product.name", "product.nameZh", "product.category", "product.gtin", "product.model",
           "product.manufacturer.name", "product.manufacturer.id")
FOOTPRINT = ("footprint.declaredUnitOfMeasurement", "footprint.declaredUnitAmount",
             "footprint.pcfExcludingBiogenicUptake", "footprint.pcfIncludingBiogenicUptake",
             "footprint.referencePeriodStart", "footprint.referencePeriodEnd", "footprint.boundary",
             "footprint.ipccCharacterizationFactors", "footprint.crossSectoralStandards",
             *(f"footprint.stages.{s}" for s in STAGES), *(f"footprint.gases.{g}" for g in GASES))
OFFSET_FIELDS = ("registry", "serialNumber", "quantity", "vintage", "kind", "retiredAt", "project")
NEUTRAL = ("coveredQuantity", "renewableElectricityShare")
#: Spreadsheet columns, in order (offsets: up to three per row).
TEMPLATE_COLUMNS = ("type", *PRODUCT, *FOOTPRINT, "basedOn", *NEUTRAL,
                    *(f"offsets.{i}.{f}" for i in range(3) for f in OFFSET_FIELDS), "validUntil")
LISTS = {"footprint.ipccCharacterizationFactors", "footprint.crossSectoralStandards", "basedOn"}
DATE_END = {"footprint.referencePeriodEnd", "validUntil"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


def _date_value(path: str, value) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        value = value.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        return value + ("T23:59:59Z" if path in DATE_END else "T00:00:00Z")
    return value


def cell_text(value) -> str:
    """A cell or input value as the text the API expects (numbers keep their written digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    return str(value).strip()


def is_date_path(path: str) -> bool:
    last = path.rsplit(".", 1)[-1]
    return last in ("referencePeriodStart", "referencePeriodEnd", "validUntil", "retiredAt")


def unflatten(flat: dict) -> dict:
    """``{"product.name": "x", "offsets.0.quantity": "1"}`` → the nested request; blanks are left out."""
    root: dict = {}
    for path, raw in flat.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if is_date_path(path) and isinstance(raw, (datetime, date)):
            value = _date_value(path, raw)
        else:
            value = cell_text(raw)
            if is_date_path(path):
                value = _date_value(path, value)
        if path in LISTS:
            value = [v.strip() for v in value.split(";") if v.strip()]
        parts = path.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def flatten(data: dict, prefix: str = "") -> dict[str, str]:
    """The inverse of :func:`unflatten`, for filling a form from a certificate (corrections)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if path in LISTS and isinstance(value, list):
            out[path] = ";".join(str(v).removeprefix("urn:uuid:") for v in value)
        elif isinstance(value, dict):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out.update(flatten(item, f"{path}.{i}."))
        elif value is not None:
            text = str(value)
            if is_date_path(path) and len(text) >= 10:
                text = text[:10]
            out[path] = text
    return out


def resolve(path: str, known: set[str]) -> str:
    """The form field (or group) an error path belongs to: the path or its nearest known parent."""
    parts = path.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return "_form"
