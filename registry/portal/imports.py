"""Bulk import from CSV or XLSX: template, dry run of every row, issuing in parts, result sheet.

Columns are the API's field paths in dotted form (``product.name``, ``footprint.stages.use``,
``offsets.0.quantity``; lists separated by ``;``). Every row goes through ``CertificateIn`` and
the issuing service as an API request would. A row's idempotency key is a hash of the file and
the row number, so importing the same file again issues nothing new.
"""

from __future__ import annotations

import csv
import hashlib
import io

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from openpyxl import Workbook, load_workbook

from ..db import get_session
from verifier import grading

from ..domain.subjects import build_subject
from ..errors import Conflict, InvalidInput, RegistryError
from ..models import Body, Category, ImportBatch, utcnow
from ..services import issuing
from ..schemas.certificates import CertificateIn
from ..schemas.common import shared
from . import accounts, bp
from .access import roles
from .batch import issue_rows
from .fields import TEMPLATE_COLUMNS, unflatten
from .filters import IMPORT_STATUS
from .issue import field_errors, idempotency_client
from .messages import translate, translate_errors

BODY_ROLES = ("body-admin", "certifier")
MAX_ROWS = 1000
MAX_BYTES = 4 * 1024 * 1024
#: Rows issued per request: each part commits, and the page shows how far it got.
PART = 250
#: ``status`` is a stable code for programs; ``statusText`` says it in the reader's language.
RESULT_COLUMNS = ("row", "status", "statusText", "number", "id", "grade", "verifyUrl", "errors")


class FileRefused(Exception):
    """The upload is not a readable spreadsheet of certificate rows; the message says why."""


def read_rows(filename: str, content: bytes) -> list[dict]:
    """The rows of a CSV or XLSX file as ``{column: value}`` (blank rows skipped)."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises many kinds for a damaged file
            raise FileRefused(_("The file is not a readable XLSX workbook.")) from err
        sheet = book.worksheets[0]
        lines = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
    elif name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise FileRefused(_("Save the CSV file as UTF-8.")) from err
        lines = list(csv.reader(io.StringIO(text)))
    else:
        raise FileRefused(_("Choose a CSV or XLSX file."))
    if not lines:
        raise FileRefused(_("The file is empty."))
    headers = [str(h).strip() if h is not None else "" for h in lines[0]]
    unknown = [h for h in headers if h and h not in TEMPLATE_COLUMNS]
    if unknown:
        raise FileRefused(_("Unknown columns: %(columns)s. Use the headers of the import template.",
                            columns=", ".join(unknown[:5])))
    if "type" not in headers:
        raise FileRefused(_("The file has no type column. Use the headers of the import template."))
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = {h: v for h, v in zip(headers, line) if h and v is not None and str(v).strip() != ""}
        if values:
            rows.append({"row": number, "values": values})
    if not rows:
        raise FileRefused(_("The file has no rows under its headers."))
    if len(rows) > MAX_ROWS:
        raise FileRefused(_("The file has %(count)d rows; import at most %(max)d at a time.", count=len(rows),
                            max=MAX_ROWS))
    return rows


def _request(values: dict) -> dict:
    return unflatten(values)


def row_key(digest: str, row: int) -> str:
    return "import:" + hashlib.sha256(f"{digest}:{row}".encode()).hexdigest()[:40]


def _jsonable(values: dict) -> dict:
    from .fields import cell_text, is_date_path, _date_value

    out = {}
    for k, v in values.items():
        out[k] = _date_value(k, v) if is_date_path(k) and not isinstance(v, str) else cell_text(v)
    return out


def dry_run(body: Body, rows: list[dict]) -> list[dict]:
    """Validate every row through the schema and the issuing rules, storing nothing.

    The rules are the issuing service's own checks (entitlement, category, basis, grading,
    offsets unused), without numbering and signing; an offset named twice in one file is
    refused on its second row, as issuing would.
    """
    db = get_session()
    now = utcnow()
    scheme = grading.load_scheme()
    categories: dict[str, Category | None] = {}
    seen_offsets: set[str] = set()
    checked = []
    for row in rows:
        values = _jsonable(row["values"])
        errors: dict = {}
        try:
            data = shared(CertificateIn).load(_request(values))
            code = data["product"]["category"]
            issuing.check_entitled(body, data["type"], code, now)
            if code not in categories:
                categories[code] = db.get(Category, code)
            if categories[code] is None:
                raise InvalidInput("Unknown category", errors={"product.category": ["Unknown category."]})
            records = issuing._basis_records(db, data.get("basedOn") or [])
            members = build_subject(data["type"], data, category=issuing._category_dict(categories[code]),
                                    scheme=scheme, now=now, footprints=records)
            offsets = (members.get("neutrality") or {}).get("offsets") or []
            issuing._check_offsets_free(db, offsets)
            keys = [issuing._identity(o) for o in offsets]
            if seen_offsets.intersection(keys):
                raise Conflict("An offset in this row is also used by an earlier row", type="offset-already-used")
            seen_offsets.update(keys)
        except (ValidationError, RegistryError) as err:
            # Stored as the rules wrote them: each reader sees them in their own language.
            errors = field_errors(err, set(TEMPLATE_COLUMNS), translated=False)
        checked.append({"row": row["row"], "values": values, "errors": errors})
    return checked


@bp.get("/import")
@roles(*BODY_ROLES)
def import_start():
    return render_template("portal/import_start.html", errors={}, columns=TEMPLATE_COLUMNS)


@bp.get("/import/template.<any(csv, xlsx):fmt>")
@roles(*BODY_ROLES)
def import_template(fmt: str):
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerow(TEMPLATE_COLUMNS)
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=certificate-import-template.csv"})
    book = Workbook()
    sheet = book.active
    sheet.title = "certificates"
    sheet.append(list(TEMPLATE_COLUMNS))
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("help")
    help_sheet.append(["column", "note"])
    for column in TEMPLATE_COLUMNS:
        help_sheet.append([column, _note(column)])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=certificate-import-template.xlsx"})


def _note(column: str) -> str:
    if column == "type":
        return "carbon-footprint | low-carbon | reduced-carbon | carbon-neutral"
    if column in ("basedOn", "footprint.ipccCharacterizationFactors", "footprint.crossSectoralStandards"):
        return "list: values separated by ;"
    if column.endswith(("referencePeriodStart", "referencePeriodEnd", "validUntil", "retiredAt")):
        return "date YYYY-MM-DD or RFC 3339 date-time"
    return ""


@bp.post("/import")
@roles(*BODY_ROLES)
def import_upload():
    upload = request.files.get("file")
    errors: dict = {}
    if upload is None or not upload.filename:
        errors["f-file"] = [_("Choose a CSV or XLSX file.")]
    else:
        content = upload.read(MAX_BYTES + 1)
        try:
            if len(content) > MAX_BYTES:
                raise FileRefused(_("The file is larger than 4 MB. Split it into smaller files."))
            rows = read_rows(upload.filename, content)
        except FileRefused as err:
            errors["f-file"] = [str(err)]
    if errors:
        return render_template("portal/import_start.html", errors=errors, columns=TEMPLATE_COLUMNS), 400
    db = get_session()
    body = db.get(Body, current_user.body_id)
    checked = dry_run(body, rows)
    batch = ImportBatch(body_id=body.id, created_by=accounts.actor(current_user), filename=upload.filename[:300],
                        digest=hashlib.sha256(content).hexdigest(), rows=checked, results={})
    db.add(batch)
    db.commit()
    return redirect(url_for("portal.import_batch", batch_id=batch.id))


def _batch(batch_id: str) -> ImportBatch:
    batch = get_session().get(ImportBatch, batch_id)
    if batch is None or batch.body_id != current_user.body_id:
        abort(404)
    return batch


@bp.get("/import/<batch_id>")
@roles(*BODY_ROLES)
def import_batch(batch_id: str):
    batch = _batch(batch_id)
    invalid = [{**r, "errors": translate_errors(r["errors"])} for r in batch.rows if r["errors"]]
    valid = len(batch.rows) - len(invalid)
    errors = {f"row-{r['row']}": [_("Row %(row)d: %(message)s", row=r["row"],
                                    message=next(iter(r["errors"].values()))[0])] for r in invalid[:20]}
    done = len(batch.results)
    return render_template("portal/import_batch.html", batch=batch, invalid=invalid, valid=valid, done=done,
                           errors=errors if not batch.results else {}, results=_result_rows(batch))


def _result_rows(batch: ImportBatch) -> list[dict]:
    if not batch.results:
        return []
    base = current_app.config["PUBLIC_URL"]
    out = []
    for r in batch.rows:
        res = batch.results.get(str(r["row"]))
        if res is None:
            status = "invalid" if r["errors"] else "pending"
            out.append({"row": r["row"], "status": status, "number": "", "id": "", "grade": "", "verifyUrl": "",
                        "errors": "; ".join(translate(m) for ms in r["errors"].values() for m in ms)})
        elif res.get("id"):
            out.append({"row": r["row"], "status": res["status"], "number": res["number"], "id": res["id"],
                        "grade": res.get("grade") or "", "verifyUrl": f"{base}/v/{res['id']}", "errors": ""})
        else:
            out.append({"row": r["row"], "status": "refused", "number": "", "id": "", "grade": "", "verifyUrl": "",
                        "errors": "; ".join(translate(m) for ms in res.get("errors", {}).values() for m in ms)})
    return out


@bp.post("/import/<batch_id>/issue")
@roles(*BODY_ROLES)
def import_issue(batch_id: str):
    batch = _batch(batch_id)
    db = get_session()
    body = db.get(Body, batch.body_id)
    results = dict(batch.results)
    pending = [r for r in batch.rows if not r["errors"] and str(r["row"]) not in results][:PART]
    items = []
    for r in pending:
        raw = _request(r["values"])
        items.append((row_key(batch.digest, r["row"]), raw, shared(CertificateIn).load(raw)))
    answers = issue_rows(db, current_app.extensions["registry.signer"], body, items,
                         public_url=current_app.config["PUBLIC_URL"], actor=accounts.actor(current_user),
                         client_id=idempotency_client(body.id))
    for r, answer in zip(pending, answers):
        if answer.certificate is not None:
            c = answer.certificate
            results[str(r["row"])] = {"status": "already issued" if answer.replayed else "issued", "id": c.id,
                                      "number": c.number, "grade": c.grade}
        else:
            results[str(r["row"])] = {"status": "refused",
                                      "errors": field_errors(answer.error, set(TEMPLATE_COLUMNS), translated=False)}
    batch.results = results
    db.commit()
    total = sum(1 for r in batch.rows if not r["errors"])
    if len(results) < total:
        return render_template("portal/import_progress.html", batch=batch, done=len(results), total=total,
                               errors={})
    issued = sum(1 for v in results.values() if v["status"] == "issued")
    flash(_("%(issued)d certificates issued; %(again)d rows were issued before.", issued=issued,
            again=sum(1 for v in results.values() if v["status"] == "already issued")), "success")
    return redirect(url_for("portal.import_batch", batch_id=batch.id))


@bp.get("/import/<batch_id>/result.<any(csv, xlsx):fmt>")
@roles(*BODY_ROLES)
def import_result(batch_id: str, fmt: str):
    batch = _batch(batch_id)
    rows = [{**row, "statusText": str(IMPORT_STATUS.get(row["status"], row["status"]))} for row in _result_rows(batch)]
    name = f"import-result-{batch.id[:8]}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    book = Workbook()
    sheet = book.active
    sheet.title = "result"
    sheet.append(list(RESULT_COLUMNS))
    for row in rows:
        sheet.append([row[c] for c in RESULT_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
