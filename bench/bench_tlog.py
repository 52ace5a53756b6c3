"""The transparency log's costs, each against a baseline in the same run.

    python bench/bench_tlog.py [--seconds 5] [--rounds 3] [--database-url URL] [--proof-size 1000000]
                               [--bulk 100000] [--skip issuance,proof,bulk]

1. Issuance with the log against issuance without it (``tlog.append`` and the answer's log claim
   switched off), alternating rounds on one server, one keep-alive client.
2. Inclusion proofs in a log of ``--proof-size`` entries (built with the bulk path): cold (a new
   process cache for each proof: only stored tiles) and warm.
3. Appending ``--bulk`` entries in bulk (the migration's path), against inserting the same rows
   without hashing or tiles.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from registry import create_app, tlog  # noqa: E402
from registry.cli import alembic_config  # noqa: E402
from registry.db import make_engine  # noqa: E402
from registry.models import TlogEntry  # noqa: E402
from tests.factories import certificate_request, commit_body, footprint  # noqa: E402
from verifier import _tlog as merkle  # noqa: E402

MASTER_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="


def fresh_db(args, name: str) -> str:
    if args.database_url:
        return args.database_url
    return f"sqlite:///{tempfile.mkdtemp()}/{name}.sqlite3"


def bench_issuance(args) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    url = fresh_db(args, "issuance")
    command.upgrade(alembic_config(url), "head")
    holder = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = holder["app"] = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY,
                                      "PUBLIC_URL": base, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
    app.instance_path = tempfile.mkdtemp()
    _body, client_id, secret = commit_body(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn.request("POST", "/auth/token", "grant_type=client_credentials",
                 {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(conn.getresponse().read())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body_json = json.dumps(certificate_request(footprint=footprint("0.8")))
    real_append, real_claim = tlog.append, tlog.certificate_claim

    def run(seconds: float) -> tuple[float, bool]:
        n, logged = 0, False
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            conn.request("POST", "/api/v1/certificates", body_json, headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 201:
                raise SystemExit(f"issuance failed: {resp.status} {data[:300]!r}")
            logged = json.loads(data).get("log") is not None
            n += 1
        return n / (time.perf_counter() - t0), logged

    run(1.0)  # warm up
    with_log, without = [], []
    for _ in range(args.rounds):
        rate, logged = run(args.seconds)
        assert logged
        with_log.append(rate)
        tlog.append, tlog.certificate_claim = (lambda *a, **k: 0), (lambda *a, **k: None)
        try:
            rate, logged = run(args.seconds)
            assert not logged
            without.append(rate)
        finally:
            tlog.append, tlog.certificate_claim = real_append, real_claim
    server.shutdown()
    w, wo = statistics.median(with_log), statistics.median(without)
    print(f"issuance ({url.split(':')[0]}), {args.rounds} alternating rounds of {args.seconds:.0f} s, one client")
    print(f"  with the log     {w:8.1f} /s   rounds {', '.join(f'{r:.1f}' for r in with_log)}")
    print(f"  without the log  {wo:8.1f} /s   rounds {', '.join(f'{r:.1f}' for r in without)}")
    print(f"  ratio            {w / wo:8.3f}   (target >= 0.90)")


def bench_bulk(args) -> None:
    url = fresh_db(args, "bulk")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    events = [{"kind": "certificate.issued", "time": "2026-12-01T00:00:00.000000Z",
               "certificateId": f"00000000-0000-4000-8000-{i:012d}", "certificateNumber": f"CB-2026-{i:06d}",
               "body": "b", "type": "carbon-footprint", "manufacturer": "urn:uscc:9134", "gtin": "06901234567892",
               "sha256": "ab" * 32} for i in range(args.bulk)]
    with engine.begin() as conn:
        t0 = time.perf_counter()
        size = tlog.bulk_append(conn, events)
        bulk_s = time.perf_counter() - t0
    assert size >= args.bulk
    # baseline: the same number of rows, already encoded, inserted without hashing or tiles
    rows = [{"idx": 10**9 + i, "leaf_hash": b"\0" * 32, "entry": merkle.canonical_json(e), "kind": e["kind"],
             "certificate_id": e["certificateId"], "created_at": tlog.utcnow()} for i, e in enumerate(events)]
    with engine.begin() as conn:
        t0 = time.perf_counter()
        for i in range(0, len(rows), 5000):
            conn.execute(insert(TlogEntry), rows[i:i + 5000])
        raw_s = time.perf_counter() - t0
        conn.execute(text("DELETE FROM tlog_entries WHERE idx >= 1000000000"))
    print(f"bulk append ({url.split(':')[0]}) of {args.bulk:,} entries")
    print(f"  bulk_append      {args.bulk / bulk_s:10,.0f} entries/s  ({bulk_s:.2f} s; target >= 5,000/s)")
    print(f"  plain insert     {args.bulk / raw_s:10,.0f} rows/s     ({raw_s:.2f} s)")
    print(f"  ratio            {raw_s / bulk_s:10.3f}")


def bench_proof(args) -> None:
    url = fresh_db(args, "proof")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    n = args.proof_size
    t0 = time.perf_counter()
    with engine.begin() as conn:
        chunk = 100_000
        for start in range(0, n, chunk):
            tlog.bulk_append(conn, [{"kind": "test", "n": i} for i in range(start, min(n, start + chunk))])
    build_s = time.perf_counter() - t0
    rng = random.Random(1)
    with engine.connect() as conn:
        size = tlog.size(conn)
        root = tlog.Tree(conn, size).root()
        picks = [rng.randrange(size) for _ in range(300)]
        cold, warm = [], []
        cache, edge = tlog._TileCache(), {}
        leaves = {i: conn.execute(text(f"SELECT leaf_hash FROM tlog_entries WHERE idx = {i}")).scalar_one()
                  for i in picks}
        for i in picks:
            t1 = time.perf_counter()
            proof = tlog.Tree(conn, size).inclusion(i)
            cold.append(time.perf_counter() - t1)
            merkle.verify_inclusion(leaves[i], i, size, proof, root)
        for i in picks:
            tlog.Tree(conn, size, cache, edge).inclusion(i)
        for i in picks:
            t1 = time.perf_counter()
            tlog.Tree(conn, size, cache, edge).inclusion(i)
            warm.append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        for i in picks[:100]:
            merkle.verify_inclusion(leaves[i], i, size, tlog.Tree(conn, size, cache, edge).inclusion(i), root)
        verify_s = (time.perf_counter() - t1) / 100
    print(f"inclusion proofs ({url.split(':')[0]}) at {size:,} entries (built in {build_s:.0f} s), 300 random leaves")
    print(f"  cold (stored tiles only)  median {statistics.median(cold) * 1e3:6.3f} ms   p99 "
          f"{sorted(cold)[int(len(cold) * 0.99) - 1] * 1e3:6.3f} ms   (target < 1 ms)")
    print(f"  warm (tiles cached)       median {statistics.median(warm) * 1e3:6.3f} ms   p99 "
          f"{sorted(warm)[int(len(warm) * 0.99) - 1] * 1e3:6.3f} ms")
    print(f"  proof + client check      {verify_s * 1e3:6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if "bulk" not in skip:
        bench_bulk(args)
    if "proof" not in skip:
        bench_proof(args)
    if "issuance" not in skip:
        bench_issuance(args)


if __name__ == "__main__":
    main()
