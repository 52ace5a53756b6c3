"""GET /v/<id> (JSON) while certificates are being issued (one per 10 verifications), with 1,000
bodies in the trust list, against a bare Flask JSON endpoint; both under ``gunicorn -w 2 -k sync``.

    python bench/bench_verify_busy.py [--seconds 10] [--connections 16] [--bodies 1000] [--every 10]
                                      [--issuers N] [--batch K]

Seeds a temporary SQLite database with ``--bodies`` accredited bodies and 2,000 certificates
(bulk path), then drives ``/v/<id>`` over ``--sample`` of those certificates from keep-alive clients while
``--issuers`` more clients (one by default) issue a certificate over HTTP after every ``--every`` completed
verifications (with ``--batch K``, a batch of K after every K × ``--every``). Issuers that cannot keep that
pace fall behind it: each result line says how many verifications there were per certificate issued. The
bare endpoint runs before and after, so drift in the machine's load shows.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import MASTER_KEY, add_cement, migrated_app  # noqa: E402
from bench_verify import BARE_APP, free_port, load, start_gunicorn  # noqa: E402


def seed(tmp: Path, public_url: str, bodies: int) -> tuple[str, list[str], tuple[str, str]]:
    from registry.db import new_session
    from registry.services import accreditation, issuing
    from tests.factories import body_data, certificate_request, footprint

    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = migrated_app(url, public_url)
    with app.app_context():
        session = new_session()
        add_cement(session)
        signer = app.extensions["registry.signer"]
        made = []
        for i in range(bodies):
            body, client, secret = accreditation.create_body(session, signer, body_data(), public_url=public_url,
                                                             actor="bench")
            made.append((body, client.client_id, secret))
            if i % 100 == 99:
                session.commit()
        session.commit()
        body, client_id, secret = made[0]
        ids = []
        for start in range(0, 2000, 1000):
            results = issuing.issue_batch(session, signer, body, [certificate_request(
                footprint=footprint(f"{0.5 + (start + i) % 400 / 1000:.3f}")) for i in range(1000)],
                public_url=public_url, actor="bench", client_id=client_id)
            ids += [r.certificate.id for r in results]
            session.commit()
        session.close()
    client = app.test_client()
    samples = []
    for _ in range(5):  # the signed trust list as /trust-list builds it when trust has changed
        app.extensions.pop("registry.trust_cache", None)
        t0 = time.perf_counter()
        assert client.get("/trust-list").status_code == 200
        samples.append(time.perf_counter() - t0)
    print(f"GET /trust-list rebuilt with {bodies} bodies: median {sorted(samples)[2] * 1000:.0f} ms "
          f"(cached: {_cached_ms(client):.2f} ms)")
    return url, ids, (client_id, secret)


def _cached_ms(client) -> float:
    t0 = time.perf_counter()
    for _ in range(20):
        client.get("/trust-list")
    return (time.perf_counter() - t0) / 20 * 1000


def verify_while_issuing(port: int, ids: list[str], credentials: tuple[str, str], seconds: float,
                         connections: int, every: int, *, read_port: int | None = None,
                         read_path: str | None = None, issuers: int = 1, batch: int = 0) -> dict:
    """Readers on ``/v/<id>`` (or ``read_path`` on ``read_port``), one issuance on ``port`` per
    ``every`` completed reads, by ``issuers`` clients at once; with ``batch``, each request is a
    batch of that many certificates, sent once ``batch`` × ``every`` reads have completed."""
    read_port = read_port or port
    latencies: list[float] = []
    done = [0]
    issued = [0]
    taken = [0]  # issuances taken by an issuer
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def reader(seed_: int):
        rng = random.Random(seed_)
        conn = http.client.HTTPConnection("127.0.0.1", read_port, timeout=30)
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            conn.request("GET", read_path or f"/v/{rng.choice(ids)}", headers={"Accept": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"verification failed: {resp.status}")
            mine.append(time.perf_counter() - t0)
            with lock:
                done[0] += 1
        with lock:
            latencies.extend(mine)

    def issuer():
        from tests.factories import certificate_request, footprint

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        basic = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        conn.request("POST", "/auth/token", "grant_type=client_credentials",
                     {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
        headers = {"Authorization": f"Bearer {json.loads(conn.getresponse().read())['access_token']}",
                   "Content-Type": "application/json"}
        size = batch or 1
        while time.monotonic() < stop_at:
            with lock:  # each issuer takes the next issuance once enough reads have completed
                mine = taken[0]
                if done[0] >= (mine + size) * every:
                    taken[0] += size
                else:
                    mine = None
            if mine is None:
                time.sleep(0.001)
                continue
            made = [certificate_request(footprint=footprint(f"0.{600 + (mine + i) % 300}")) for i in range(size)]
            if batch:
                conn.request("POST", "/api/v1/certificates/batch", json.dumps({"items": made}), headers)
            else:
                conn.request("POST", "/api/v1/certificates", json.dumps(made[0]), headers)
            resp = conn.getresponse()
            data = resp.read()
            ok = (resp.status == 200 and all(r["status"] == 201 for r in json.loads(data)["results"]) if batch
                  else resp.status == 201)
            if not ok:
                raise SystemExit(f"issuance failed: {resp.status} {data[:200]!r}")
            with lock:
                issued[0] += size

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(connections)]
    threads += [threading.Thread(target=issuer) for _ in range(issuers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "issued": issued[0],
            "p50": latencies[len(latencies) // 2] * 1000, "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "mean": sum(latencies) / len(latencies) * 1000}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--bodies", type=int, default=1000)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="sync workers of each server")
    ap.add_argument("--sample", type=int, default=50, help="how many certificates the scans are spread over")
    ap.add_argument("--issuers", type=int, default=1, help="issuing clients at once (one cannot keep pace alone)")
    ap.add_argument("--batch", type=int, default=0, help="issue through /api/v1/certificates/batch, this many a request")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port_bare, port_app = free_port(), free_port()
        public_url = f"http://127.0.0.1:{port_app}"
        t0 = time.perf_counter()
        url, ids, credentials = seed(tmp, public_url, args.bodies)
        print(f"seeded {args.bodies} bodies and {len(ids)} certificates in {time.perf_counter() - t0:.0f} s")
        ids = random.Random(1).sample(ids, min(args.sample, len(ids)))
        (tmp / "bare.py").write_text(BARE_APP)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp}", "REGISTRY_DATABASE_URL": url,
               "REGISTRY_PUBLIC_URL": public_url, "REGISTRY_MASTER_KEY": MASTER_KEY,
               "REGISTRY_RATELIMIT_ENABLED": "false", "REGISTRY_LOG_LEVEL": "WARNING"}
        procs = [start_gunicorn("bare:app", port_bare, env, tmp, args.workers)]
        try:
            procs.append(start_gunicorn("registry:create_app()", port_app, env, ROOT, args.workers))
            headers = {"Accept": "application/json"}
            load(port_bare, "/ping", headers, 1.0, 4)
            # Warm: every worker builds its trust list once and memoises answers for the sample.
            verify_while_issuing(port_app, ids, credentials, 3.0, 4, 10**9)
            bare1 = load(port_bare, "/ping", headers, args.seconds, args.connections)
            quiet = verify_while_issuing(port_app, ids, credentials, args.seconds, args.connections, 10**9)
            issuing = {"issuers": args.issuers, "batch": args.batch}
            busy = verify_while_issuing(port_app, ids, credentials, args.seconds, args.connections, args.every,
                                        **issuing)
            # The same issuance stream beside the bare endpoint: what issuing itself costs the machine
            # is then in both figures, and the ratio shows what it does to verification.
            bare_busy = verify_while_issuing(port_app, ids, credentials, args.seconds, args.connections, args.every,
                                             read_port=port_bare, read_path="/ping", **issuing)
            bare2 = load(port_bare, "/ping", headers, args.seconds, args.connections)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)
        bare = (bare1["rps"] + bare2["rps"]) / 2
        print(f"bare Flask JSON /ping          {bare:8.0f} req/s  (before {bare1['rps']:.0f}, after {bare2['rps']:.0f})")
        for name, r in (("GET /v/<id>, no issuance", quiet), (f"GET /v/<id>, 1 issue per {args.every}", busy),
                        (f"bare /ping, 1 issue per {args.every}", bare_busy)):
            print(f"{name:30} {r['rps']:8.0f} req/s  mean {r['mean']:6.2f} ms  p50 {r['p50']:6.2f} ms  "
                  f"p99 {r['p99']:6.2f} ms  ({r['requests']} verifications, {r['issued']} issued"
                  + (f", one per {r['requests'] / r['issued']:.1f})" if r["issued"] else ")"))
        print(f"ratio /v/<id> ÷ bare, no issuance:      {quiet['rps'] / bare:.2f}")
        print(f"ratio /v/<id> ÷ bare, while issuing:    {busy['rps'] / bare:.2f} (bare without issuance)")
        print(f"ratio /v/<id> ÷ bare, both while issuing: {busy['rps'] / bare_busy['rps']:.2f} (target ≥ 0.75)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
