"""Portal bulk import of 1,000 rows from XLSX, end to end through the portal's own pages.

    python bench/bench_import.py [--rows 1000] [--database-url URL]

A fresh SQLite file unless a database URL is given. A certifier signs in (password + TOTP), uploads
the workbook (parse + dry run of every row), issues every row (in parts, as the progress page
does) and imports the same file again (nothing new is issued). The baseline, in the same process
and on the same database, is issuing and committing certificates one at a time through the same
service the single-certificate API uses; the figure that matters is the import's rate as a ratio
to it, and the wall-clock time for the rows.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp  # noqa: E402
from alembic import command  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from registry import create_app  # noqa: E402
from registry.cli import alembic_config  # noqa: E402
from registry.db import new_session  # noqa: E402
from registry.models import Certificate  # noqa: E402
from registry.portal import accounts  # noqa: E402
from registry.portal.fields import TEMPLATE_COLUMNS  # noqa: E402
from registry.schemas.certificates import CertificateIn  # noqa: E402
from registry.services import accreditation, issuing  # noqa: E402
from tests.factories import certificate_request, commit_body  # noqa: E402

from _common import MASTER_KEY  # noqa: E402  (the benchmarks' throwaway key)
ROW = {"type": "carbon-footprint", "product.name": "P.O 42.5 cement", "product.nameZh": "普通硅酸盐水泥",
       "product.category": "cement", "product.manufacturer.name": "Anhui Demo Cement Co.",
       "product.manufacturer.id": "urn:uscc:91340000MA2N00001X",
       "footprint.declaredUnitOfMeasurement": "kilogram", "footprint.declaredUnitAmount": "1",
       "footprint.pcfExcludingBiogenicUptake": "0.8", "footprint.pcfIncludingBiogenicUptake": "0.8",
       "footprint.referencePeriodStart": "2025-01-01", "footprint.referencePeriodEnd": "2025-12-31",
       "footprint.boundary": "cradle-to-gate", "footprint.ipccCharacterizationFactors": "AR6",
       "footprint.crossSectoralStandards": "ISO14067;GB/T24067", "validUntil": "2028-12-31"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def workbook(rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(TEMPLATE_COLUMNS))
    for i in range(rows):
        values = {**ROW, "product.model": f"M-{i:05d}"}
        sheet.append([values.get(c) for c in TEMPLATE_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csrf(html: str) -> str:
    return CSRF.search(html).group(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    command.upgrade(alembic_config(url), "head")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY, "PUBLIC_URL": "http://bench",
                      "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
    app.instance_path = tmp
    body, _, _ = commit_body(app)
    with app.app_context():
        session = new_session()
        _user, password, secret = accounts.create_user(session, email="bench@example.org", role="certifier",
                                                       body_id=body.id, master_key=MASTER_KEY, actor="bench")
        session.commit()
        # Baseline: one certificate at a time, each in its own transaction, as the single API does.
        data = CertificateIn().load(certificate_request())
        db_body = accreditation.get_body(session, body.id)
        started = time.perf_counter()
        for _ in range(args.baseline):
            issuing.issue(session, app.extensions["registry.signer"], db_body, data, public_url="http://bench",
                          actor="bench")
            session.commit()
        single = args.baseline / (time.perf_counter() - started)
        session.close()

    client = app.test_client()
    page = client.get("/portal/login").get_data(as_text=True)
    resp = client.post("/portal/login", data={"csrf_token": csrf(page), "email": "bench@example.org",
                                              "password": password, "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302, resp.status_code
    content = workbook(args.rows)

    def run_import() -> tuple[float, float]:
        token = csrf(client.get("/portal/import").get_data(as_text=True))
        t0 = time.perf_counter()
        resp = client.post("/portal/import", data={"csrf_token": token, "file": (io.BytesIO(content), "bench.xlsx")},
                           content_type="multipart/form-data")
        location = resp.headers["Location"]
        t1 = time.perf_counter()
        resp = client.post(location + "/issue", data={"csrf_token": token})
        while resp.status_code == 200:
            resp = client.post(location + "/issue", data={"csrf_token": token})
        assert resp.status_code == 302, resp.status_code
        return t1 - t0, time.perf_counter() - t1

    check, issue = run_import()
    with app.app_context():
        session = new_session()
        issued = session.query(Certificate).filter(Certificate.product_name == ROW["product.name"],
                                                   Certificate.body_id == body.id).count() - args.baseline
        session.close()
    again_check, again_issue = run_import()
    total = check + issue
    print(f"baseline: single issue + commit   {single:8.1f} certificates/s")
    print(f"import {args.rows} rows: upload + dry run {check:6.2f} s, issuing {issue:6.2f} s, total {total:6.2f} s "
          f"({args.rows / total:.1f} rows/s; issued {issued})")
    print(f"issuing part alone: {args.rows / issue:.1f} certificates/s = {args.rows / issue / single:.2f} × baseline")
    print(f"same file again: dry run {again_check:.2f} s, nothing new issued in {again_issue:.2f} s")


if __name__ == "__main__":
    main()
