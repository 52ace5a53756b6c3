"""``carbon-verify --batch`` on a 1,000-row spreadsheet against a local registry (gunicorn -w 2).

Seeds a temporary SQLite database with ``--rows`` certificates, writes a CSV whose rows name them
by number in messy spellings (lower case, spaces, no hyphens) and some by GTIN, then times
1. the baseline: the same rows checked one ``POST /api/v1/verify`` per row, as a hand-written
   script would, and
2. ``carbon-verify --batch`` (100 rows per call, progress bar, report written),
in the same process, and prints both and their ratio.

    python bench/bench_batch.py [--rows 1000]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import add_cement, migrated_app  # noqa: E402
from bench_verify import MASTER_KEY, free_port, start_gunicorn  # noqa: E402


def seed(tmp: Path, public_url: str, rows: int) -> tuple[str, list[tuple[str, str]]]:
    """A migrated SQLite database with ``rows`` certificates; returns (URL, [(number, gtin)])."""

    from registry.db import new_session
    from registry.schemas.certificates import CertificateIn
    from registry.services import accreditation, issuing
    from tests.factories import body_data, certificate_request, product
    from tests.procurement.conftest import random_gtin

    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = migrated_app(url, public_url)
    out = []
    with app.app_context():
        session = new_session()
        add_cement(session)
        signer = app.extensions["registry.signer"]
        body, _c, _s = accreditation.create_body(session, signer, body_data(), public_url=public_url, actor="bench")
        for _ in range(rows):
            gtin = random_gtin()
            cert = issuing.issue(session, signer, body, CertificateIn().load(certificate_request(
                product=product(gtin=gtin))), public_url=public_url, actor="bench")
            out.append((cert.number, gtin))
        session.commit()
        session.close()
    return url, out


def messy(number: str, i: int) -> str:
    return (number, number.lower(), " " + number.replace("-", " ") + " ", number.replace("-", ""))[i % 4]


def one_by_one(port: int, rows: list[dict]) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    for item in rows:
        conn.request("POST", "/api/v1/verify", body=json.dumps(item), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
    conn.close()
    return time.perf_counter() - started


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args(argv)
    from verifier._cli import main as carbon_verify

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        url, certs = seed(tmp, public_url, args.rows)
        print(f"seeded {len(certs)} certificates in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        sheet = tmp / "suppliers.csv"
        items = []
        with sheet.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Supplier", "Certificate No.", "GTIN"])
            for i, (number, gtin) in enumerate(certs):
                if i % 10 == 9:  # every tenth row by GTIN only
                    writer.writerow([f"supplier {i}", "", gtin])
                    items.append({"gtin": gtin})
                else:
                    writer.writerow([f"supplier {i}", messy(number, i), ""])
                    items.append({"number": messy(number, i)})
        env = {**os.environ, "PYTHONPATH": str(ROOT), "REGISTRY_DATABASE_URL": url, "REGISTRY_PUBLIC_URL": public_url,
               "REGISTRY_MASTER_KEY": MASTER_KEY, "REGISTRY_RATELIMIT_ENABLED": "false",
               "REGISTRY_LOG_LEVEL": "WARNING", "REGISTRY_ENV": "development"}
        proc = start_gunicorn("registry:create_app()", port, env, ROOT)
        try:
            one_by_one(port, items[:20])  # warm both workers
            baseline = one_by_one(port, items)
            report = tmp / "report.csv"
            started = time.perf_counter()
            status = carbon_verify(["--batch", str(sheet), "--registry", public_url, "--output", str(report)])
            batch = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(10)
        with report.open(encoding="utf-8-sig") as fh:
            verified = sum(row["verified"] == "true" for row in csv.DictReader(fh))
    print(f"one POST per row        {baseline:7.2f} s  ({len(items) / baseline:6.0f} rows/s)")
    print(f"carbon-verify --batch   {batch:7.2f} s  ({len(items) / batch:6.0f} rows/s), "
          f"{verified}/{len(items)} verified, exit {status}")
    print(f"ratio batch ÷ one-by-one time: {batch / baseline:.2f}; target: {len(items)} rows in < 30 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
