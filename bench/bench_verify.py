"""GET /v/<id> (JSON) against a bare Flask JSON endpoint, both under ``gunicorn -w 2 -k sync``.

Seeds a temporary SQLite database with one certificate, starts two gunicorn servers on loopback
ports (the registry and a one-route Flask app), drives each for ``--seconds`` with ``--connections``
keep-alive clients (threads + http.client) and prints req/s, p50/p99 and the ratio.

    python bench/bench_verify.py [--seconds 10] [--connections 16] [--profile]

``--profile`` also runs 2,000 verifications in-process under cProfile and prints the top entries.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import MASTER_KEY, add_cement, migrated_app  # noqa: E402
BARE_APP = textwrap.dedent('''
    from flask import Flask
    app = Flask(__name__)

    @app.get("/ping")
    def ping():
        return {"ok": True, "service": "bare"}
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(tmp: Path, public_url: str) -> tuple[str, str]:
    """Migrate a fresh SQLite database and issue one certificate; returns (database URL, certificate id)."""
    from registry.db import new_session
    from registry.schemas.certificates import CertificateIn
    from registry.services import accreditation, issuing
    from tests.factories import body_data, certificate_request

    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = migrated_app(url, public_url)
    with app.app_context():
        session = new_session()
        add_cement(session)
        signer = app.extensions["registry.signer"]
        body, _c, _s = accreditation.create_body(session, signer, body_data(), public_url=public_url, actor="bench")
        cert = issuing.issue(session, signer, body, CertificateIn().load(certificate_request()), public_url=public_url,
                             actor="bench")
        session.commit()
        cert_id = cert.id
        session.close()
    return url, cert_id


def start_gunicorn(target: str, port: int, env: dict, cwd: Path, workers: int = 2) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", target]
    # Production refuses an http:// public URL (did:web needs https); these servers are local.
    proc = subprocess.Popen(cmd, env={"REGISTRY_ENV": "development", **env}, cwd=cwd)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"gunicorn {target} did not start")


def load(port: int, path: str, headers: dict, seconds: float, connections: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")  # noqa: E731
    return {"requests": len(latencies), "errors": errors[0], "rps": len(latencies) / elapsed,
            "p50": p(0.50), "p99": p(0.99), "mean": statistics.fmean(latencies) * 1000 if latencies else 0}


def profile(url: str, public_url: str, cert_id: str, n: int = 2000) -> None:
    import cProfile
    import pstats

    from registry import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY, "PUBLIC_URL": public_url,
                      "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})
    client = app.test_client()
    headers = {"Accept": "application/json"}
    client.get(f"/v/{cert_id}", headers=headers)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        client.get(f"/v/{cert_id}", headers=headers)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port_bare, port_app = free_port(), free_port()
        public_url = f"http://127.0.0.1:{port_app}"
        url, cert_id = seed(tmp, public_url)
        (tmp / "bare.py").write_text(BARE_APP)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp}", "REGISTRY_DATABASE_URL": url,
               "REGISTRY_PUBLIC_URL": public_url, "REGISTRY_MASTER_KEY": MASTER_KEY,
               "REGISTRY_RATELIMIT_ENABLED": "false", "REGISTRY_LOG_LEVEL": "WARNING"}
        procs = [start_gunicorn("bare:app", port_bare, env, tmp),
                 start_gunicorn("registry:create_app()", port_app, env, ROOT)]
        try:
            headers = {"Accept": "application/json"}
            label_path = f"/labels/{cert_id}.svg"
            for port, path in ((port_bare, "/ping"), (port_app, f"/v/{cert_id}"), (port_app, label_path)):
                load(port, path, headers, 1.0, 4)  # warm every worker and cache
            # The bare endpoint runs before and after, so drift in the machine's load shows.
            bare1 = load(port_bare, "/ping", headers, args.seconds, args.connections)
            verify = load(port_app, f"/v/{cert_id}", headers, args.seconds, args.connections)
            label = load(port_app, label_path, {"Accept-Encoding": "gzip"}, args.seconds, args.connections)
            bare2 = load(port_bare, "/ping", headers, args.seconds, args.connections)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)
        bare = {k: (bare1[k] + bare2[k]) / 2 for k in ("rps", "p50", "p99")}
        bare.update(requests=bare1["requests"] + bare2["requests"], errors=bare1["errors"] + bare2["errors"])
        for name, r in (("bare Flask JSON /ping", bare), ("GET /v/<id> JSON", verify),
                        ("GET /labels/<id>.svg", label)):
            print(f"{name:24} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                  f"({r['requests']} requests, {r['errors']} errors)")
        print(f"bare before / after: {bare1['rps']:.0f} / {bare2['rps']:.0f} req/s")
        print(f"ratio /v/<id> ÷ bare: {verify['rps'] / bare['rps']:.2f} (target ≥ 0.60)")
        print(f"ratio cached label ÷ bare: {label['rps'] / bare['rps']:.2f} (target ≥ 0.50)")
        if args.profile:
            profile(url, public_url, cert_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
