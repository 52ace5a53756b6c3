"""Bulk issuance over HTTP (``POST /api/v1/certificates/batch``) as a ratio to raw signing, with the
single-request rate measured in the same run.

    python bench/bench_batch_issuance.py [--batches 5] [--size 1000] [--seconds 5] [--database-url URL]

Runs the registry on a real socket on a fresh SQLite file unless a database URL is given, sends
batches of carbon-footprint requests from one keep-alive client, then signs the same credential
payload with the same key in the same process for the baseline.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from registry import create_app  # noqa: E402
from registry.cli import alembic_config  # noqa: E402
from registry.db import new_session  # noqa: E402
from registry.services import accreditation  # noqa: E402
from tests.factories import certificate_request, commit_body, footprint  # noqa: E402

from _common import MASTER_KEY  # noqa: E402  (the benchmarks' throwaway key)


def serve(url: str, tmp: str):
    holder = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = holder["app"] = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY,
                                      "PUBLIC_URL": base, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
    app.instance_path = tmp
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, app


def token(conn, client_id: str, secret: str) -> dict:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn.request("POST", "/auth/token", "grant_type=client_credentials",
                 {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    return {"Authorization": f"Bearer {json.loads(conn.getresponse().read())['access_token']}",
            "Content-Type": "application/json"}


def items(n: int, start: int) -> list[dict]:
    # Distinct footprints so every item is a request of its own (numbers, grades, payload sizes vary).
    return [certificate_request(footprint=footprint(f"{0.5 + (start + i) % 997 / 1000:.3f}")) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to time single requests")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    command.upgrade(alembic_config(url), "head")
    server, app = serve(url, tmp)
    body, client_id, secret = commit_body(app)
    with app.app_context():
        session = new_session()
        key = accreditation.current_key(session, accreditation.get_body(session, body.id))
        session.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=600)
    headers = token(conn, client_id, secret)

    payload, single = None, 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        conn.request("POST", "/api/v1/certificates", json.dumps(items(1, single)[0]), headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            raise SystemExit(f"issuance failed: {resp.status} {data[:300]!r}")
        payload = payload or json.loads(data)["credential"]
        single += 1
    single_per_s = single / (time.perf_counter() - t0)

    bodies = [json.dumps({"items": items(args.size, 10_000 + b * args.size)}) for b in range(args.batches)]
    issued, t0 = 0, time.perf_counter()
    for text in bodies:
        conn.request("POST", "/api/v1/certificates/batch", text, headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"batch failed: {resp.status} {data[:300]!r}")
        results = json.loads(data)["results"]
        bad = [r for r in results if r["status"] != 201]
        if bad:
            raise SystemExit(f"batch item refused: {bad[0]}")
        issued += len(results)
    batch_per_s = issued / (time.perf_counter() - t0)
    server.shutdown()

    import jwt
    claims = jwt.decode(payload, options={"verify_signature": False})
    signer = app.extensions["registry.signer"]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        signer.sign(claims, key, typ="vc+jwt", cty="vc")
        n += 1
    sign_per_s = n / (time.perf_counter() - t0)
    print(f"database                     {url.split(':')[0]}")
    print(f"single requests              {single} in {args.seconds:.0f} s: {single_per_s:8.1f}/s")
    print(f"batch                        {args.batches} × {args.size}: {batch_per_s:8.1f}/s")
    print(f"raw signing per second       {sign_per_s:8.1f}  (same key, same payload, same process)")
    print(f"ratio single / raw sign      {single_per_s / sign_per_s:8.4f}")
    print(f"ratio batch / raw sign       {batch_per_s / sign_per_s:8.4f}")
    print(f"ratio batch / single         {batch_per_s / single_per_s:8.1f}")


if __name__ == "__main__":
    main()
