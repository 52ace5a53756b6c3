"""Real gunicorn processes for tests: the registry as deployed, several workers on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` with ``workers`` workers on a free port.

    ``env`` adds ``REGISTRY_*`` settings; the instance folder is ``instance`` (a temporary one).
    """

    def __init__(self, database_url: str, instance: Path, *, workers: int = 2, master_key: str,
                 env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = Path(instance)
        self.log = self.instance.parent / f"gunicorn-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("REGISTRY_", "PROMETHEUS_")) and k != "GUNICORN_CMD_ARGS"}
        self.env.update({"REGISTRY_DATABASE_URL": database_url, "REGISTRY_MASTER_KEY": master_key,
                         "REGISTRY_PUBLIC_URL": self.url, "REGISTRY_INSTANCE_PATH": str(self.instance),
                         # development: production refuses a loopback http URL as a did:web
                         "REGISTRY_LOG_LEVEL": "WARNING", "REGISTRY_ENV": "development"})
        self.env.update(env or {})
        self.args = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"),
                     "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "wsgi:app"]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Gunicorn":
        return self.launch().wait(timeout)

    def launch(self) -> "Gunicorn":
        """Start the process without waiting for it to answer (to start several at once)."""
        self.instance.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def wait(self, timeout: float = 60) -> "Gunicorn":
        """Wait until it answers ``/healthz``; raises RuntimeError if it exits or does not answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code < 600:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # quick shutdown
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the master and its workers
                self.proc.wait(5)

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
