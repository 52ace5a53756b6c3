"""What the integrity checks cost, as ratios in one process (in-process WSGI, SQLite or PostgreSQL).

* ``POST /api/v1/verify`` of an issued credential with and without the registry-record check
  (``NOT_ISSUED`` / ``CONTENT_MISMATCH``);
* an authenticated read (``GET /api/v1/audit?limit=1``, operator token) with and without the
  per-request client/body state lookup;
* a JSON body of a 1,000-item verify batch through the depth/character bounds and through plain
  ``json.loads``.

Rounds alternate between the two variants so machine load affects both alike.

    python bench/bench_integrity.py [--rounds 5] [--n 300] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from registry import auth, create_app, verification  # noqa: E402
from registry.cli import alembic_config  # noqa: E402
from registry.db import new_session  # noqa: E402
from registry.hardening import _BoundedJSON  # noqa: E402
from tests.conftest import basic  # noqa: E402
from tests.factories import certificate_request, commit_body, make_operator  # noqa: E402

from _common import MASTER_KEY  # noqa: E402  (the benchmarks' throwaway key)


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def _compare(name: str, with_, without, *, rounds: int, n: int, patch, unpatch) -> None:
    on, off = [], []
    for _ in range(rounds):
        on.append(_rate(with_, n))
        patch()
        off.append(_rate(without, n))
        unpatch()
    a, b = statistics.median(on), statistics.median(off)
    print(f"{name}: {a:,.0f}/s with, {b:,.0f}/s without, ratio {a / b:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    command.upgrade(alembic_config(url), "head")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY, "PUBLIC_URL": "http://bench.test",
                      "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
    app.instance_path = tmp
    _, client_id, secret = commit_body(app)
    with app.app_context():
        session = new_session()
        op_id, op_secret = make_operator(session)
        session.commit()
        session.close()
    client = app.test_client()

    def token(cid, sec):
        return client.post("/auth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(cid, sec)}).get_json()["access_token"]

    body_headers = {"Authorization": f"Bearer {token(client_id, secret)}"}
    op_headers = {"Authorization": f"Bearer {token(op_id, op_secret)}"}
    credential = client.post("/api/v1/certificates", json=certificate_request(), headers=body_headers).get_json()["credential"]

    def verify():
        assert client.post("/api/v1/verify", json={"credential": credential}).get_json()["verified"]

    original_check = verification.check_record
    _compare("POST /api/v1/verify (record check)", verify, verify, rounds=args.rounds, n=args.n,
             patch=lambda: setattr(verification, "check_record", lambda session, result, **kw: result),
             unpatch=lambda: setattr(verification, "check_record", original_check))

    def audit():
        assert client.get("/api/v1/audit?limit=1", headers=op_headers).status_code == 200

    original_state = auth._current_state
    _compare("GET /api/v1/audit (client state lookup)", audit, audit, rounds=args.rounds, n=args.n,
             patch=lambda: setattr(auth, "_current_state", lambda cid, role: auth.Principal(cid, role, None)),
             unpatch=lambda: setattr(auth, "_current_state", original_state))

    batch = json.dumps({"items": [{"credential": credential}] * 1000}).encode()
    bounded = _BoundedJSON()
    with app.app_context():
        _compare(f"parse a {len(batch) // 1024} KiB JSON body (bounds)", lambda: bounded.loads(batch),
                 lambda: json.loads(batch), rounds=args.rounds, n=max(args.n // 10, 10),
                 patch=lambda: None, unpatch=lambda: None)


if __name__ == "__main__":
    main()
