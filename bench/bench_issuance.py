"""Certificates issued per second end to end (HTTP request to commit), as a ratio to raw signing.

    python bench/bench_issuance.py [--seconds 8] [--database-url URL]

Runs the registry on a real socket (werkzeug, one thread per connection) on a fresh SQLite file
unless a database URL is given, issues carbon-footprint certificates from one keep-alive client,
and signs the same credential payload with the same key in the same process for the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    command.upgrade(alembic_config(url), "head")
    holder = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = holder["app"] = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY,
                                      "PUBLIC_URL": base, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
    app.instance_path = tmp
    body, client_id, secret = commit_body(app)
    with app.app_context():
        session = new_session()
        key = accreditation.current_key(session, accreditation.get_body(session, body.id))
        session.close()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    conn = http.client.HTTPConnection("127.0.0.1", server.server_port)
    import base64
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn.request("POST", "/auth/token", "grant_type=client_credentials",
                 {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(conn.getresponse().read())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body_json = json.dumps(certificate_request(footprint=footprint("0.8")))

    latencies, payload = [], None
    deadline = time.perf_counter() + args.seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/certificates", body_json, headers)
        resp = conn.getresponse()
        data = resp.read()
        latencies.append(time.perf_counter() - t0)
        if resp.status != 201:
            raise SystemExit(f"issuance failed: {resp.status} {data[:300]!r}")
        payload = payload or json.loads(data)["credential"]
    issued_per_s = len(latencies) / (time.perf_counter() - start)
    server.shutdown()

    import jwt
    claims = jwt.decode(payload, options={"verify_signature": False})
    signer = app.extensions["registry.signer"]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        signer.sign(claims, key, typ="vc+jwt", cty="vc")
        n += 1
    sign_per_s = n / (time.perf_counter() - t0)
    lat = sorted(latencies)
    print(f"database                  {url.split(':')[0]}")
    print(f"certificates issued       {len(latencies)} in {args.seconds:.0f} s, one keep-alive client")
    print(f"issued per second         {issued_per_s:8.1f}")
    print(f"latency median / p99      {statistics.median(lat) * 1000:6.1f} ms / {lat[int(len(lat) * 0.99) - 1] * 1000:6.1f} ms")
    print(f"raw signing per second    {sign_per_s:8.1f}  (same key, same payload, same process)")
    print(f"ratio issued / raw sign   {issued_per_s / sign_per_s:8.4f}")


if __name__ == "__main__":
    main()
