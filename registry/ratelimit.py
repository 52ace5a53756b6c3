"""Rate-limit counters shared by every worker of one instance: a small SQLite file.

Flask-Limiter's ``memory://`` storage is per process, so gunicorn's N workers allowed N times
each limit. Without a shared store configured (``REGISTRY_RATELIMIT_STORAGE_URI=redis://…`` for
several hosts), the counters live in ``instance/ratelimit.sqlite3``: one upsert per limited
request, serialised by SQLite across processes. The counters are disposable, so the file runs
without fsync (``synchronous=OFF``): a crash loses at most the current windows.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

from limits.storage import Storage

SCHEME = "registry+sqlite"
_PURGE_EVERY = 1000

_INCR = """
INSERT INTO counters (key, count, expiry) VALUES (:key, :amount, :expiry)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN counters.expiry <= :now THEN excluded.count ELSE counters.count + excluded.count END,
    expiry = CASE WHEN counters.expiry <= :now THEN excluded.expiry ELSE counters.expiry END
RETURNING count
"""


def default_uri(instance: Path) -> str:
    return f"{SCHEME}:///{instance / 'ratelimit.sqlite3'}"


class SQLiteStorage(Storage):
    """Fixed-window counters in an SQLite file (``registry+sqlite:///absolute/path``)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
        self._local = threading.local()
        self._calls = 0

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _conn(self) -> sqlite3.Connection:
        # One connection per process and thread: a forked worker must not share its parent's.
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            if not self.path.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS counters "
                         "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expiry REAL NOT NULL)")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        conn = self._conn()
        count = conn.execute(_INCR, {"key": key, "amount": amount, "expiry": now + expiry, "now": now}).fetchone()[0]
        self._calls += 1
        if self._calls % _PURGE_EVERY == 0:
            conn.execute("DELETE FROM counters WHERE expiry <= ?", (now,))
        return count

    def get(self, key: str) -> int:
        row = self._conn().execute("SELECT count FROM counters WHERE key = ? AND expiry > ?",
                                   (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._conn().execute("SELECT expiry FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row and row[0] > time.time() else time.time()

    def check(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        return self._conn().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._conn().execute("DELETE FROM counters WHERE key = ?", (key,))
