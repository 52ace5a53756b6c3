"""Load: ``GET /v/<id>`` (JSON) and ``POST /api/v1/verify`` at 64 connections, without and with label renders.

Loads the demo data (``flask registry demo``) into a temporary instance folder, starts gunicorn
with the project's ``gunicorn.conf.py`` on a loopback port, and drives two phases of
``--seconds`` each with ``--connections`` keep-alive clients (threads + http.client): first
verification alone (the baseline), then the same with ``--renders`` clients fetching PNG labels
at varied sizes (``/labels/<id>.png?width=…&dpi=…``) beside it. Prints errors per endpoint and
the ``/v/`` throughput with renders as a ratio of the baseline (target: 0 errors, ≥ 0.80).

    python bench/bench_load.py [--seconds 60] [--connections 64] [--renders 4] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: (width mm, dpi) pairs the render clients cycle through: small stickers to large cartons.
SIZES = [(20, 150), (30, 300), (40, 300), (25, 600), (60, 300), (80, 600), (100, 300), (120, 600)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(tmp: Path, port: int, workers: int) -> tuple[subprocess.Popen, dict, Path]:
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "PROMETHEUS_"))}
    env.update({"REGISTRY_ENV": "development", "REGISTRY_INSTANCE_PATH": str(tmp / "instance"),
                "REGISTRY_PUBLIC_URL": url, "REGISTRY_RATELIMIT_ENABLED": "false", "REGISTRY_LOG_LEVEL": "WARNING"})
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "registry", "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp / "gunicorn.log"
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", str(workers),
                             "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"gunicorn did not start:\n{log.read_text()}")
    return proc, env, log


def fixtures(port: int) -> tuple[list[str], list[str]]:
    """Certificate ids and their credentials (compact JWS) from the demo data."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/certificates?limit=100", headers={"Accept": "application/json"})
    items = json.loads(conn.getresponse().read())["items"]
    ids, creds = [], []
    for item in items:
        conn.request("GET", f"/api/v1/certificates/{item['id']}")
        body = json.loads(conn.getresponse().read())
        ids.append(item["id"])
        if body.get("credential"):
            creds.append(body["credential"])
    return ids, creds


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = Counter()
        self.errors = Counter()
        self.busy = Counter()
        self.samples: dict[str, list[str]] = {}

    def record(self, name: str, ok: bool, detail: str = "", busy: bool = False) -> None:
        with self.lock:
            if busy:
                self.busy[name] += 1
            elif ok:
                self.done[name] += 1
            else:
                self.errors[name] += 1
                self.samples.setdefault(name, [])
                if len(self.samples[name]) < 3:
                    self.samples[name].append(detail)

    def merge(self, other: "Stats") -> None:
        self.done.update(other.done)
        self.errors.update(other.errors)
        self.busy.update(other.busy)
        for name, samples in other.samples.items():
            self.samples.setdefault(name, []).extend(samples[:3 - len(self.samples.get(name, []))])


def client(port: int, stop: threading.Event, stats: Stats, name: str, requests) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for method, path, body, headers in requests:
        if stop.is_set():
            break
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            # A label size the registry declines (4xx) is an answer, and so is a render refused for now
            # (503 busy with Retry-After: renders get a share of the CPU); other 5xx and dropped
            # connections are errors. Refusals are counted apart and reported.
            busy = resp.status == 503 and resp.getheader("Retry-After") is not None and b"/busy" in data
            stats.record(name, resp.status < 500, f"{resp.status} {data[:120]!r}", busy=busy)
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException) as err:
            if stop.is_set():
                break
            stats.record(name, False, repr(err))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()


def run_phase(port: int, seconds: float, connections: int, renders: int, ids, creds) -> tuple[Stats, float]:
    stats = Stats()
    stop = threading.Event()
    n_verify = max(1, connections // 4)
    json_headers = {"Accept": "application/json"}
    post_headers = {"Content-Type": "application/json"}
    threads = []
    for i in range(connections):
        if i < connections - n_verify:
            reqs = (("GET", f"/v/{cid}", None, json_headers) for cid in itertools.cycle(ids[i % len(ids):] + ids))
            name = "GET /v/{id}"
        else:
            reqs = (("POST", "/api/v1/verify", json.dumps({"credential": c}), post_headers)
                    for c in itertools.cycle(creds[i % len(creds):] + creds))
            name = "POST /api/v1/verify"
        threads.append(threading.Thread(target=client, args=(port, stop, stats, name, reqs), daemon=True))
    for i in range(renders):
        sizes = itertools.cycle(SIZES[i % len(SIZES):] + SIZES[:i % len(SIZES)])
        reqs = (("GET", f"/labels/{cid}.png?width={w}&dpi={d}", None, {}) for cid, (w, d) in zip(itertools.cycle(ids), sizes))
        threads.append(threading.Thread(target=client, args=(port, stop, stats, "GET /labels/{id}.png", reqs),
                                         daemon=True))
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join(30)
    return stats, elapsed


def report(title: str, stats: Stats, elapsed: float) -> None:
    print(f"\n{title} ({elapsed:.1f} s)")
    for name in sorted(set(stats.done) | set(stats.errors)):
        print(f"  {name:24} {stats.done[name] / elapsed:9.1f} req/s  {stats.done[name]:7d} ok  "
              f"{stats.busy[name]:6d} busy  {stats.errors[name]:5d} errors  {stats.samples.get(name, [])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--renders", type=int, default=4, help="label-render clients in the second phase")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="alternations of the two phases (seconds are split)")
    args = ap.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        proc, _env, log = prepare(Path(tmp), port, args.workers)
        try:
            ids, creds = fixtures(port)
            print(f"{len(ids)} demo certificates, {args.connections} connections "
                  f"({args.connections - max(1, args.connections // 4)} on /v/, {max(1, args.connections // 4)} "
                  f"on /api/v1/verify), {args.workers} gunicorn workers, {args.seconds:.0f} s per phase")
            run_phase(port, min(5.0, args.seconds), args.connections, 0, ids, creds)  # warm caches
            # Alternating rounds, so a change in the machine's load during the run falls on both phases.
            base, mixed, t0, t1 = Stats(), Stats(), 0.0, 0.0
            for _ in range(args.rounds):
                stats, elapsed = run_phase(port, args.seconds / args.rounds, args.connections, 0, ids, creds)
                base.merge(stats)
                t0 += elapsed
                stats, elapsed = run_phase(port, args.seconds / args.rounds, args.connections, args.renders,
                                           ids, creds)
                mixed.merge(stats)
                t1 += elapsed
            report("verification alone", base, t0)
            report(f"with {args.renders} label-render clients", mixed, t1)
            key = "GET /v/{id}"
            ratio = (mixed.done[key] / t1) / (base.done[key] / t0) if base.done[key] else 0.0
            errors = sum(base.errors.values()) + sum(mixed.errors.values())
            print(f"\n/v/ throughput with renders / without: {ratio:.2f} (target ≥ 0.80); errors: {errors} (target 0)")
            server_errors = [line for line in log.read_text(errors="replace").splitlines()
                             if "WORKER TIMEOUT" in line or "SIGKILL" in line or "Traceback" in line]
            if server_errors:
                print(f"gunicorn log: {len(server_errors)} worker timeouts/kills/tracebacks, e.g. {server_errors[:3]}")
            return 0 if errors == 0 and ratio >= 0.80 else 1
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


if __name__ == "__main__":
    sys.exit(main())
