"""The real server: gunicorn's own refusals are problem+json, and its access log cannot be forged."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    log = tmp / "access.log"
    env = {**os.environ, "REGISTRY_ENV": "development", "REGISTRY_MASTER_KEY": MASTER_KEY,
           "REGISTRY_DATABASE_URL": f"sqlite:///{tmp / 'r.sqlite3'}", "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log),
                             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Ready once a worker has booted and answers (the master accepts connections before that).
        deadline = time.monotonic() + 90
        while True:
            try:
                _raw(port, b"GET /ready-probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(10)


def _raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"NOT A REQUEST LINE\r\n\r\n", 400),
])
def test_gunicorn_refusals_are_problem_json(server, request_bytes, status):
    port, _ = server
    got, headers, body = _raw(port, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("https://")


def test_basic_auth_user_cannot_forge_access_log_lines(server):
    port, log = server
    forged = '-\n127.0.0.1 - admin [01/Jan/2026:00:00:00 +0000] "POST /api/v1/bodies HTTP/1.1" 201'
    credentials = base64.b64encode(f"{forged}:secret".encode()).decode()
    status, _, _ = _raw(port, f"GET /no-such-page HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n"
                              "Connection: close\r\n\r\n".encode())
    assert status == 404
    for _ in range(50):
        text = log.read_text()
        if "no-such-page" in text:
            break
        time.sleep(0.05)
    lines = [line for line in text.splitlines() if line]
    assert not any(line.startswith("127.0.0.1 - admin") for line in lines), text
    assert any("no-such-page" in line and "\\n127.0.0.1 - admin" in line for line in lines), text
