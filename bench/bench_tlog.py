"""The transparency log's costs, each against a baseline in the same run.

    python bench/bench_tlog.py [--seconds 5] [--rounds 3] [--database-url URL] [--proof-size 1000000]
                               [--bulk 100000] [--fresh 10] [--skip issuance,proof,bulk]

1. Issuance with the log against issuance without it (``tlog.append`` and the answer's log claim
   switched off), alternating rounds on one server, one keep-alive client.
2. Inclusion proofs in a log of ``--proof-size`` entries (built with the bulk path): cold (a new
   process cache for each proof: stored tiles and the right edge stored with a checkpoint of that
   size; one query), at a size without a stored edge (its partial tiles read and hashed), the
   same without the one-query read (each tile read when first needed), warm, and the first
   proof of ``--fresh`` new processes (statements not compiled yet), with and without the edge
   the start checkpoint reads.
3. Appending ``--bulk`` entries in bulk (the migration's path), against inserting the same rows
   without hashing or tiles; wall and CPU time (this process, and the PostgreSQL backend's when
   the server runs on this machine).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import random
import statistics
import subprocess
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
from registry.models import TlogEdge, TlogEntry  # noqa: E402
from tests.factories import certificate_request, commit_body, footprint  # noqa: E402
from verifier import _tlog as merkle  # noqa: E402

from _common import MASTER_KEY  # noqa: E402  (the benchmarks' throwaway key)


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


def _backend_cpu(conn) -> float | None:
    """CPU seconds the PostgreSQL backend serving ``conn`` has used, when it runs on this machine."""
    if conn.dialect.name != "postgresql":
        return None
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_bulk(args) -> None:
    url = fresh_db(args, "bulk")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    events = [{"kind": "certificate.issued", "time": "2026-12-01T00:00:00.000000Z",
               "certificateId": f"00000000-0000-4000-8000-{i:012d}", "certificateNumber": f"CB-2026-{i:06d}",
               "body": "b", "type": "carbon-footprint", "manufacturer": "urn:uscc:9134", "gtin": "06901234567892",
               "sha256": "ab" * 32} for i in range(args.bulk)]
    load = _load()
    with engine.begin() as conn:
        db0 = _backend_cpu(conn)
        t0, c0 = time.perf_counter(), time.process_time()
        size = tlog.bulk_append(conn, events)
        bulk_s, bulk_cpu = time.perf_counter() - t0, time.process_time() - c0
        bulk_db = None if db0 is None else _backend_cpu(conn) - db0
    assert size >= args.bulk
    # baseline: the same number of rows, already encoded, inserted without hashing or tiles
    rows = [{"idx": 10**9 + i, "leaf_hash": b"\0" * 32, "entry": merkle.canonical_json(e), "kind": e["kind"],
             "certificate_id": e["certificateId"], "created_at": tlog.utcnow()} for i, e in enumerate(events)]
    with engine.begin() as conn:
        db0 = _backend_cpu(conn)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(rows), 5000):
            conn.execute(insert(TlogEntry), rows[i:i + 5000])
        raw_s, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
        raw_db = None if db0 is None else _backend_cpu(conn) - db0
        conn.execute(text("DELETE FROM tlog_entries WHERE idx >= 1000000000"))

    def cpu(process: float, db: float | None) -> str:
        if db is None:
            return f"CPU {process:.2f} s ({args.bulk / process:,.0f}/CPU s)"
        return (f"CPU {process:.2f} s + database {db:.2f} s "
                f"({args.bulk / (process + db):,.0f}/CPU s)")

    print(f"bulk append ({url.split(':')[0]}) of {args.bulk:,} entries; {load}")
    print(f"  bulk_append      {args.bulk / bulk_s:10,.0f} entries/s  (wall {bulk_s:.2f} s, {cpu(bulk_cpu, bulk_db)}; "
          "target >= 5,000/s)")
    print(f"  plain insert     {args.bulk / raw_s:10,.0f} rows/s     (wall {raw_s:.2f} s, {cpu(raw_cpu, raw_db)})")
    print(f"  ratio            {raw_s / bulk_s:10.3f}")


def _first_proof(url: str, size: int, picks: list[int], warm_edge: bool) -> list[float]:
    """In this (new) process: the first proof after connecting, for each of ``picks`` in turn
    (the first is the one that matters; the rest show what a second costs)."""
    engine = make_engine(url)
    out = []
    with engine.connect() as conn:
        cache, edge = tlog._TileCache(), {}
        if warm_edge:  # what the start checkpoint leaves behind (tlog.checkpoint_at_start)
            tree = tlog.Tree(conn, size, cache, edge)
            tree.root()
            tree.inclusion(0)
        for i in picks:
            t1 = time.perf_counter()
            tlog.Tree(conn, size, cache, edge).inclusion(i)
            out.append(time.perf_counter() - t1)
    return out


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return (f"median {statistics.median(xs) * 1e3:6.3f} ms   p99 {xs[max(0, int(len(xs) * 0.99) - 1)] * 1e3:6.3f} ms")


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
        # the right edge a stored checkpoint of this size keeps (tlog._store)
        size = tlog.size(conn)
        conn.execute(insert(TlogEdge).values(size=size, hashes=tlog.edge_blob(tlog.Tree(conn, size))))
    build_s = time.perf_counter() - t0
    rng = random.Random(1)
    load = _load()
    with engine.connect() as conn:
        root = tlog.Tree(conn, size).root()
        older = size - 1  # a size with no stored edge
        root_older = tlog.Tree(conn, older).root()
        picks = [rng.randrange(size) for _ in range(300)]
        cold, no_edge, apart, warm, cold_cpu = [], [], [], [], []
        cache, edge = tlog._TileCache(), {}
        leaves = {i: conn.execute(text(f"SELECT leaf_hash FROM tlog_entries WHERE idx = {i}")).scalar_one()
                  for i in picks}
        for i in picks:  # the cold kinds alternate, so that load drifts hit all alike
            t1, c1 = time.perf_counter(), time.thread_time()
            proof = tlog.Tree(conn, size).inclusion(i)
            cold.append(time.perf_counter() - t1)
            cold_cpu.append(time.thread_time() - c1)  # SQLite runs in this thread: its work counts
            merkle.verify_inclusion(leaves[i], i, size, proof, root)
            i = min(i, older - 1)
            t1 = time.perf_counter()
            proof = tlog.Tree(conn, older).inclusion(i)
            no_edge.append(time.perf_counter() - t1)
            merkle.verify_inclusion(leaves[i], i, older, proof, root_older)
            tree = tlog.Tree(conn, older)
            t1 = time.perf_counter()
            proof = merkle.inclusion_path(i, older, tree.mth)  # no one-query read first
            apart.append(time.perf_counter() - t1)
            merkle.verify_inclusion(leaves[i], i, older, proof, root_older)
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
    fresh: dict[bool, list[float]] = {False: [], True: []}
    for k in range(args.fresh):
        for warm_edge in (False, True):
            out = subprocess.run([sys.executable, __file__, "--first-proof", url, str(size),
                                  ",".join(map(str, picks[k * 3:k * 3 + 3])), str(int(warm_edge))],
                                 capture_output=True, text=True, check=True).stdout
            fresh[warm_edge].append(json.loads(out)[0])
    print(f"inclusion proofs ({url.split(':')[0]}) at {size:,} entries (built in {build_s:.0f} s), "
          f"300 random leaves; {load}")
    print(f"  cold (stored tiles and edge, 1 query) {_ms(cold)}   (target < 1 ms)")
    print(f"  cold, CPU time of this thread         {_ms(cold_cpu)}"
          + ("" if url.startswith("sqlite") else "   (the server's share not counted)"))
    print(f"  cold, size without a stored edge      {_ms(no_edge)}")
    print(f"  same, each tile read when needed      {_ms(apart)}")
    print(f"  warm (tiles cached)                   {_ms(warm)}")
    print(f"  proof + client check                  {verify_s * 1e3:6.3f} ms")
    if args.fresh:
        print(f"  first proof of {args.fresh} new processes        {_ms(fresh[False])}")
        print(f"  same after the start's warm-up         {_ms(fresh[True])}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--fresh", type=int, default=10, help="new processes timing their first proof")
    parser.add_argument("--skip", default="")
    parser.add_argument("--first-proof", nargs=4, help=argparse.SUPPRESS)  # url size picks warm-edge
    args = parser.parse_args()
    if args.first_proof:
        url, size, picks, warm_edge = args.first_proof
        print(json.dumps(_first_proof(url, int(size), [int(p) for p in picks.split(",")], warm_edge == "1")))
        return
    skip = set(filter(None, args.skip.split(",")))
    if "bulk" not in skip:
        bench_bulk(args)
    if "proof" not in skip:
        bench_proof(args)
    if "issuance" not in skip:
        bench_issuance(args)


if __name__ == "__main__":
    main()
