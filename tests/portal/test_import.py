"""Bulk import: template headers, dry run with row errors, issuing, result sheet, re-import issues nothing."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook

from registry.models import Certificate
from registry.portal.fields import TEMPLATE_COLUMNS

from .conftest import csrf_from

ROW = {"type": "carbon-footprint", "product.name": "P.O 42.5 cement", "product.nameZh": "普通硅酸盐水泥",
       "product.category": "cement", "product.manufacturer.name": "Anhui Demo Cement Co.",
       "product.manufacturer.id": "urn:uscc:91340000MA2N00001X",
       "footprint.declaredUnitOfMeasurement": "kilogram", "footprint.declaredUnitAmount": "1",
       "footprint.pcfExcludingBiogenicUptake": "0.8", "footprint.pcfIncludingBiogenicUptake": "0.8",
       "footprint.referencePeriodStart": "2025-01-01", "footprint.referencePeriodEnd": "2025-12-31",
       "footprint.boundary": "cradle-to-gate", "footprint.ipccCharacterizationFactors": "AR6",
       "footprint.crossSectoralStandards": "ISO14067;GB/T24067", "validUntil": "2028-12-31"}


def sheet_rows(n: int, bad: dict[int, dict] | None = None) -> list[dict]:
    rows = []
    for i in range(n):
        row = {**ROW, "product.model": f"M-{i:04d}"}
        row.update((bad or {}).get(i, {}))
        rows.append(row)
    return rows


def xlsx(rows: list[dict]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(TEMPLATE_COLUMNS))
    for row in rows:
        sheet.append([row.get(c) for c in TEMPLATE_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, name: str, content: bytes):
    page = client.get("/portal/import").get_data(as_text=True)
    return client.post("/portal/import", data={"csrf_token": csrf_from(page), "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def issue_all(client, location: str):
    page = client.get(location).get_data(as_text=True)
    resp = client.post(location + "/issue", data={"csrf_token": csrf_from(page)})
    while resp.status_code == 200:  # a progress page: continue
        resp = client.post(location + "/issue", data={"csrf_token": csrf_from(resp.get_data(as_text=True))})
    assert resp.status_code == 302
    return client.get(location).get_data(as_text=True)


def test_templates_have_the_api_field_paths(signed_in):
    text = signed_in.get("/portal/import/template.csv").get_data(as_text=True).lstrip("\ufeff")
    headers = next(csv.reader(io.StringIO(text)))
    for path in ("type", "product.name", "product.nameZh", "product.category", "product.gtin",
                 "product.manufacturer.id", "footprint.pcfExcludingBiogenicUptake",
                 "footprint.stages.manufacturing", "basedOn", "offsets.0.serialNumber"):
        assert path in headers
    book = load_workbook(io.BytesIO(signed_in.get("/portal/import/template.xlsx").data))
    assert [c.value for c in book.worksheets[0][1]] == list(TEMPLATE_COLUMNS)


def test_refused_files_say_why(signed_in):
    resp = upload(signed_in, "x.txt", b"hello")
    assert resp.status_code == 400 and 'href="#f-file"' in resp.get_data(as_text=True)
    resp = upload(signed_in, "x.csv", b"type,colour\ncarbon-footprint,green\n")
    assert resp.status_code == 400 and "colour" in resp.get_data(as_text=True)


def test_import_200_rows_dry_run_issue_result_and_reimport(signed_in, session, body):
    bad = {3: {"product.gtin": "12345"}, 7: {"footprint.pcfExcludingBiogenicUptake": "lots"}}
    content = xlsx(sheet_rows(200, bad))
    resp = upload(signed_in, "cement.xlsx", content)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    page = signed_in.get(location).get_data(as_text=True)
    assert session.query(Certificate).filter_by(body_id=body.id).count() == 0  # the dry run stored nothing
    assert "198 can be issued" in page and "2 have problems" in page
    assert 'href="#row-5"' in page and 'id="row-5"' in page and 'id="row-9"' in page
    assert "<code>product.gtin</code>" in page
    done = issue_all(signed_in, location)
    assert session.query(Certificate).filter_by(body_id=body.id).count() == 198
    assert "Result per row" in done
    result = load_workbook(io.BytesIO(signed_in.get(location + "/result.xlsx").data)).worksheets[0]
    header = [c.value for c in result[1]]
    assert header == ["row", "status", "statusText", "number", "id", "grade", "verifyUrl", "errors"]
    rows = [dict(zip(header, [c.value for c in r])) for r in result.iter_rows(min_row=2)]
    issued = [r for r in rows if r["status"] == "issued"]
    assert len(issued) == 198 and all(r["verifyUrl"].endswith("/v/" + r["id"]) and r["grade"] for r in issued)
    assert {r["statusText"] for r in issued} == {"Issued"}
    text = signed_in.get(location + "/result.csv").get_data(as_text=True)
    assert text.count("\n") == 201
    # The status code stays for programs; its words follow the reader's language.
    zh = list(csv.DictReader(io.StringIO(signed_in.get(location + "/result.csv?lang=zh").get_data(as_text=True)
                                         .lstrip("\ufeff"))))
    assert {r["statusText"] for r in zh if r["status"] == "issued"} == {"已签发"}
    assert all(r["statusText"] and r["statusText"] != r["status"] for r in zh)

    again = upload(signed_in, "cement.xlsx", content).headers["Location"]
    issue_all(signed_in, again)
    assert session.query(Certificate).filter_by(body_id=body.id).count() == 198  # the same file issues nothing new
    rows = list(csv.DictReader(io.StringIO(signed_in.get(again + "/result.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert sum(r["status"] == "already issued" for r in rows) == 198
