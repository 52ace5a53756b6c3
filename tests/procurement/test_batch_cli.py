"""``carbon-verify --batch``: a spreadsheet of messy numbers against a live registry."""

from __future__ import annotations

import csv
import time
from datetime import datetime, timedelta

import httpx
import openpyxl
import pytest
from registry.models import utcnow
from verifier import _batch
from verifier._cli import main

from ..factories import certificate_request, commit_body, product
from ..conftest import basic
from .conftest import random_gtin


@pytest.fixture(scope="module")
def sheet_certs(live_server):
    _, client_id, secret = commit_body(live_server.app)
    http = httpx.Client(base_url=live_server.url, timeout=20)
    token = http.post("/auth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": basic(client_id, secret)}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def issue(gtin, **overrides):
        resp = http.post("/api/v1/certificates", json=certificate_request(product=product(gtin=gtin), **overrides),
                         headers=headers)
        assert resp.status_code == 201, resp.text
        return resp.json()

    soon = (utcnow() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expired = issue(random_gtin(), validUntil=soon)  # the signed validUntil passes during the test
    good, revoked, by_gtin = (issue(random_gtin()) for _ in range(3))
    assert http.post(f"/api/v1/certificates/{revoked['id']}/revoke", json={"reason": "wrong data"},
                     headers=headers).status_code == 200
    time.sleep(max(0.0, (datetime.fromisoformat(soon.replace("Z", "+00:00")) - utcnow()).total_seconds() + 0.2))
    gtin = http.get(f"/api/v1/certificates/{by_gtin['id']}").json()["credentialSubject"]["product"]["gtin"]
    http.close()
    return {"good": good, "revoked": revoked, "expired": expired, "by_gtin": by_gtin, "gtin": gtin}


def _rows(c):
    n = c["good"]["number"]
    return [
        ["Supplier", "Certificate No.", "GTIN", "Certificate ID"],
        ["A (as printed)", n, "", ""],
        ["B (lower case, spaces)", "  " + n.lower().replace("-", " ") + " ", "", ""],
        ["C (no hyphens)", n.replace("-", ""), "", ""],
        ["D (revoked)", c["revoked"]["number"], "", ""],
        ["E (expired)", c["expired"]["number"].lower(), "", ""],
        ["F (by GTIN, 13 digits)", "", c["gtin"].lstrip("0"), ""],
        ["G (by id)", "", "", c["by_gtin"]["id"].upper()],
        ["H (unknown)", "ZZZZ-2026-999999", "", ""],
        ["I (nothing)", "", "", ""],
    ]


def _check(report_rows, c, header_len=4):
    by = {r[0][0]: dict(zip(["verified", "status", "kind", "grade", "footprint", "body", "validUntil", "reason"],
                            r[header_len:])) for r in report_rows}
    for key in "ABC":
        assert by[key]["verified"] == "true" and by[key]["status"] == "active", by[key]
        assert by[key]["kind"] == "carbon-footprint" and by[key]["grade"] == c["good"]["grade"]
        assert by[key]["footprint"] == "0.82 kg CO2e per kilogram" and by[key]["body"]
        assert by[key]["validUntil"] == "2028-12-31T23:59:59Z"
    assert by["D"]["verified"] == "false" and by["D"]["status"] == "revoked" and by["D"]["reason"]
    assert by["E"]["verified"] == "false" and by["E"]["status"] == "expired"
    assert by["F"]["verified"] == "true" and by["G"]["verified"] == "true"
    assert by["H"]["status"] == "not found" and "ZZZZ" in by["H"]["reason"]
    assert by["I"]["verified"] == "false" and "no certificate number" in by["I"]["reason"]


def test_csv_spreadsheet_of_messy_numbers(live_server, sheet_certs, tmp_path, capsys):
    source, report = tmp_path / "suppliers.csv", tmp_path / "report.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=";").writerows(_rows(sheet_certs))
    calls = []
    real = _batch.urllib_post
    _batch.urllib_post = lambda url, body, **kw: calls.append(url) or real(url, body, **kw)
    try:
        status = main(["--batch", str(source), "--registry", live_server.url, "--output", str(report)])
    finally:
        _batch.urllib_post = real
    assert status == 1  # some rows do not verify
    assert calls == [f"{live_server.url}/api/v1/verify"]  # one batch call for all rows
    err = capsys.readouterr().err
    assert "Verifying [" in err and "9/9" in err and "5 of 9 rows verified" in err
    with report.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == _rows(sheet_certs)[0] + list(_batch.REPORT_COLUMNS)
    assert len(rows) == 10
    _check(rows[1:], sheet_certs)


def test_xlsx_in_and_out(live_server, sheet_certs, tmp_path):
    source, report = tmp_path / "suppliers.xlsx", tmp_path / "report.xlsx"
    book = openpyxl.Workbook()
    for row in _rows(sheet_certs):
        book.active.append(row)
    book.active.cell(row=7, column=3).value = int(sheet_certs["gtin"])  # a GTIN typed as a number
    book.save(source)
    assert main(["--batch", str(source), "--registry", live_server.url, "--output", str(report)]) == 1
    rows = [["" if v is None else str(v) for v in r] for r in openpyxl.load_workbook(report).active.iter_rows(values_only=True)]
    _check(rows[1:], sheet_certs)


def test_batches_of_100(tmp_path):
    rows = [[f"N-{i}"] for i in range(250)]
    sizes = []

    def post(url, body):
        import json

        items = json.loads(body)["items"]
        sizes.append(len(items))
        return json.dumps({"results": [{"verified": False, "errors": [{"code": "NOT_FOUND", "message": "x"}]}
                                       for _ in items]}).encode()

    fields = _batch.verify_rows(rows, {"number": 0}, "http://r.example", post=post)
    assert sizes == [100, 100, 50] and len(fields) == 250


def test_usage_errors(tmp_path, capsys):
    source = tmp_path / "x.csv"
    source.write_text("colour\nred\n")
    assert main(["--batch", str(source), "--registry", "http://127.0.0.1:9", "--output", str(tmp_path / "r.csv")]) == 2
    assert "no column is named" in capsys.readouterr().err
    assert main(["--batch", str(source), "--output", str(tmp_path / "r.csv")]) == 2
    assert main(["--batch", str(source), "--registry", "http://127.0.0.1:9", "--output", str(tmp_path / "r.txt")]) == 2


def test_the_verifier_still_stands_alone():
    import subprocess
    import sys

    code = ("import sys, verifier, verifier._cli, verifier._batch; "
            "bad = [m for m in ('flask', 'sqlalchemy', 'registry', 'openpyxl') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
