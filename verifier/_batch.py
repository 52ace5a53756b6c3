"""``carbon-verify --batch FILE.csv|FILE.xlsx --registry URL --output REPORT.csv|REPORT.xlsx``.

Each input row names a certificate by whichever column it has: a credential (compact JWS), QR
text, a certificate id, a certificate number or a GTIN. Rows go to the registry's verify API 100
at a time, and the report has one row per input row: the input columns, then verified, status,
kind, grade, footprint, body, valid until and, when not verified, the reason.
Reading or writing ``.xlsx`` needs ``openpyxl`` (the ``sheets`` extra); CSV needs nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._errors import InputError

BATCH_SIZE = 100
REPORT_COLUMNS = ("verified", "status", "kind", "grade", "footprint", "body", "validUntil", "reason")
# Header words (lower case, without spaces, hyphens or underscores) for each kind of reference,
# in the order a row's references are tried.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "credential": ("credential", "jws", "vc", "凭证"),
    "qr": ("qr", "qrtext", "qrcode", "scan", "二维码"),
    "id": ("id", "certificateid", "certid", "uuid", "证书id"),
    "number": ("number", "certificatenumber", "certificateno", "certno", "certnumber", "证书编号", "编号"),
    "gtin": ("gtin", "ean", "barcode", "gtin13", "gtin14", "商品条码", "条码"),
}
STATUS_BY_CODE = {"EXPIRED": "expired", "REVOKED": "revoked", "SUSPENDED": "suspended", "NOT_FOUND": "not found",
                  "NOT_YET_VALID": "not yet valid"}
Post = Callable[[str, bytes], bytes]
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _normal(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(header or "")).lower()


def detect_columns(headers: Sequence[str]) -> dict[str, int]:
    """Which column holds which kind of reference; raises ``InputError`` when none does."""
    found: dict[str, int] = {}
    normal = [_normal(h) for h in headers]
    for kind, names in COLUMN_NAMES.items():
        for i, h in enumerate(normal):
            if h in names and i not in found.values():
                found[kind] = i
                break
    if not found:
        raise InputError("no column is named for a certificate number, GTIN, id, credential or QR text "
                         f"(headers: {', '.join(map(str, headers))})")
    return found


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV or XLSX file; raises ``InputError``."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        book = _openpyxl().load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = [["" if v is None else _cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
    elif suffix in (".csv", ".txt", ".tsv"):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read {path}: {err}") from err
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = [row for row in csv.reader(io.StringIO(text), dialect)]
    else:
        raise InputError(f"{path}: give a .csv or .xlsx file")
    rows = [r for r in rows if any(str(c).strip() for c in r)]
    if not rows:
        raise InputError(f"{path} is empty")
    header, body = rows[0], rows[1:]
    width = len(header)
    return [str(h) for h in header], [(r + [""] * width)[:max(width, len(r))] for r in body]


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # GTINs typed into a spreadsheet become numbers
    return str(value)


def _openpyxl():
    try:
        import openpyxl
    except ModuleNotFoundError as err:
        raise InputError("reading or writing .xlsx needs openpyxl: pip install 'carbon-label-registry[sheets]'") from err
    return openpyxl


def item_for(row: list[str], columns: dict[str, int], registry: str) -> dict | None:
    """The verify API item for one row, or None when the row names nothing."""
    for kind in COLUMN_NAMES:
        if kind not in columns:
            continue
        value = str(row[columns[kind]]).strip() if columns[kind] < len(row) else ""
        if not value:
            continue
        if kind == "id":
            value = value.removeprefix("urn:uuid:").lower()
            if not _UUID.match(value):
                continue  # a row counter, not a certificate id
            return {"qr": f"{registry}/v/{value}"}
        return {kind: value}
    return None


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Certificate")).lower()


def report_fields(result: dict | None) -> dict[str, str]:
    """The report columns for one verify API result."""
    if result is None:
        return {"verified": "false", "status": "", "kind": "", "grade": "", "footprint": "", "body": "",
                "validUntil": "", "reason": "no certificate number, GTIN, id, credential or QR text in this row"}
    chosen = result
    if "results" in result and "certificate" not in result:  # a GTIN: the product's current certificates
        inner = result["results"]
        chosen = next((r for r in inner if r.get("verified")), inner[0] if inner else result)
    codes = [e.get("code") for e in chosen.get("errors", [])]
    credential = chosen.get("credential") or {}
    subject = credential.get("credentialSubject") or {}
    certificate = chosen.get("certificate") or {}
    footprint = subject.get("footprint") or {}
    if chosen.get("verified"):
        status = "active"
    else:
        status = next((STATUS_BY_CODE[c] for c in codes if c in STATUS_BY_CODE), "invalid")
    kinds = [t for t in credential.get("type", []) if t != "VerifiableCredential"]
    kind = certificate.get("type") or (_kebab(kinds[0]) if kinds else "")
    value = footprint.get("pcfExcludingBiogenicUptake")
    unit = footprint.get("declaredUnitOfMeasurement", "")
    amount = footprint.get("declaredUnitAmount", "1")
    reasons = [e.get("message", "") for e in (chosen.get("errors") or result.get("errors") or [])]
    return {
        "verified": "true" if result.get("verified") else "false",
        "status": status,
        "kind": kind,
        "grade": str((subject.get("grade") or {}).get("value") or certificate.get("grade") or ""),
        "footprint": f"{value} kg CO2e per {amount} {unit}".replace("per 1 ", "per ") if value else "",
        "body": chosen.get("issuerName") or "",
        "validUntil": credential.get("validUntil") or certificate.get("validUntil") or "",
        "reason": "" if result.get("verified") else "; ".join(r for r in reasons if r),
    }


def urllib_post(url: str, body: bytes, *, timeout: float = 60.0) -> bytes:
    """POST JSON with urllib; raises ``InputError`` when the registry cannot be reached or refuses."""
    if not url.startswith(("https://", "http://")):
        raise InputError(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "User-Agent": "carbon-verify"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s) only, checked above)
            return resp.read()
    except urllib.error.HTTPError as err:
        raise InputError(f"the registry refused the batch: HTTP {err.code} {err.read()[:300]!r}") from err
    except (urllib.error.URLError, OSError) as err:
        raise InputError(f"cannot reach the registry at {url}: {err}") from err


class Progress:
    """A progress bar on stderr, redrawn in place."""

    def __init__(self, total: int, stream: Any = None, width: int = 30):
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr

    def update(self, n: int) -> None:
        self.done += n
        filled = int(self.width * self.done / self.total) if self.total else self.width
        self.stream.write(f"\rVerifying [{'#' * filled}{' ' * (self.width - filled)}] {self.done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def verify_rows(rows: list[list[str]], columns: dict[str, int], registry: str, *, post: Post | None = None,
                progress: Progress | None = None) -> list[dict[str, str]]:
    """Report fields for every row, from ``POST {registry}/api/v1/verify`` in batches of 100.

    Raises ``InputError`` when the registry cannot be reached or answers something else.
    """
    post = post or urllib_post
    url = registry.rstrip("/") + "/api/v1/verify"
    items = [item_for(r, columns, registry.rstrip("/")) for r in rows]
    results: list[dict | None] = [None] * len(rows)
    asked = [i for i, item in enumerate(items) if item is not None]
    if progress and len(asked) < len(rows):
        progress.update(len(rows) - len(asked))
    for start in range(0, len(asked), BATCH_SIZE):
        chunk = asked[start:start + BATCH_SIZE]
        raw = post(url, json.dumps({"items": [items[i] for i in chunk]}).encode())
        try:
            answers = json.loads(raw)["results"]
        except (ValueError, KeyError, TypeError) as err:
            raise InputError("the registry's verify answer is not a batch result") from err
        if len(answers) != len(chunk):
            raise InputError("the registry answered a different number of results")
        for i, answer in zip(chunk, answers):
            results[i] = answer
        if progress:
            progress.update(len(chunk))
    return [report_fields(r) if items[i] is not None else report_fields(None) for i, r in enumerate(results)]


def write_report(path: Path, header: list[str], rows: list[list[str]], fields: list[dict[str, str]]) -> None:
    out_header = header + [c for c in REPORT_COLUMNS]
    out_rows = [row[:len(header)] + [f[c] for c in REPORT_COLUMNS] for row, f in zip(rows, fields)]
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        openpyxl = _openpyxl()
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "verification"
        sheet.append(out_header)
        for row in out_rows:
            sheet.append(row)
        book.save(path)
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(out_header)
            writer.writerows(out_rows)
    else:
        raise InputError(f"{path}: the report must be a .csv or .xlsx file")


def run_batch(source: str, registry: str | None, output: str | None, *, post: Post | None = None,
              stream: Any = None) -> int:
    """Verify every row of ``source`` and write ``output``; 0 when all verified, 1 otherwise.

    Raises ``InputError`` for unreadable files, missing columns, a missing registry or output.
    """
    if not registry:
        raise InputError("--batch needs --registry URL")
    if not output:
        raise InputError("--batch needs --output REPORT.csv or REPORT.xlsx")
    out = Path(output)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(f"{output}: the report must be a .csv or .xlsx file")
    header, rows = read_rows(Path(source))
    columns = detect_columns(header)
    progress = Progress(len(rows), stream)
    try:
        fields = verify_rows(rows, columns, registry, post=post, progress=progress)
    finally:
        progress.close()
    write_report(out, header, rows, fields)
    failed = sum(f["verified"] != "true" for f in fields)
    (stream or sys.stderr).write(f"{len(rows) - failed} of {len(rows)} rows verified; report in {out}\n")
    return 0 if failed == 0 else 1
