"""Engine, declarative base and the per-request session."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Seconds between PRAGMA optimize runs per SQLite engine (also run when a connection closes).
OPTIMIZE_EVERY = 600


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, busy_timeout: float = 15) -> Engine:
    """An engine for ``url``; SQLite gets real transactions, foreign keys and WAL.

    ``busy_timeout`` (seconds) bounds how long a writer waits for another's lock: SQLite's busy
    handler, PostgreSQL's ``lock_timeout``. Beyond it the request answers 503 ``database-busy``.
    """
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        _sqlite_hooks(engine, url)
        return engine
    connect_args = {}
    if url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        # Options given in the URL (a search_path, say) are kept: connect_args would replace them.
        given = make_url(url).query.get("options")
        connect_args["options"] = " ".join(filter(None, [given if isinstance(given, str) else " ".join(given or ()),
                                                         f"-c lock_timeout={int(busy_timeout * 1000)}"]))
        if "connect_timeout" not in url:  # an unreachable host must not hang start-up or /healthz
            connect_args["connect_timeout"] = 10
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL, or None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _private_sqlite_file(url: str) -> None:
    # SQLite creates its file (and the -wal/-shm files, which copy its mode) with the umask's
    # 0644: every local account could read the registry. Create it 0600 first, tighten an old one.
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            pass


def _write_intent() -> bool:
    """Whether a transaction begun now belongs to work that writes.

    A request declares it in ``g.db_write`` (see :func:`registry.http.init_app`); commands and
    background work outside a request write as a rule, unless they set ``g.db_write`` too.
    """
    if has_request_context():
        return bool(g.get("db_write"))
    return has_app_context() and g.get("db_write", True)


def read_only(view):
    """Mark a view that reads only although its method is POST: its transactions stay deferred."""
    view.db_read_only = True
    return view


def is_busy(err: BaseException) -> bool:
    """Whether ``err`` is a lock wait that ran out (SQLite busy, PostgreSQL lock or serialisation)."""
    orig = getattr(err, "orig", err)
    code = getattr(orig, "sqlstate", None)
    if code in ("55P03", "40001", "40P01"):  # lock_not_available, serialization_failure, deadlock
        return True
    name = getattr(orig, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    return type(orig).__module__ == "sqlite3" and "database is locked" in str(orig)


def _sqlite_hooks(engine: Engine, url: str) -> None:
    # pysqlite's own transaction handling defeats SAVEPOINTs and outer rollbacks
    # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if ":memory:" not in url and url != "sqlite://":
            cur.execute("PRAGMA journal_mode=WAL")
            # Reads through a memory map instead of a read() call per page, and a page cache of
            # 8 MB instead of 2: at a million certificates a lookup's index pages stay at hand.
            cur.execute("PRAGMA mmap_size=268435456")
            cur.execute("PRAGMA cache_size=-8192")
        cur.close()

    # A deferred BEGIN reads a WAL snapshot; its first write fails at once with SQLITE_BUSY_SNAPSHOT
    # if another writer committed meanwhile, whatever the busy timeout. Work that writes takes the
    # write lock up front (BEGIN IMMEDIATE), so writers queue on the busy handler; reads stay
    # deferred and never wait.
    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent() else "BEGIN")

    # Planner statistics follow the tables as they grow: a never-analysed SQLite picks
    # low-selectivity indexes (docs/benchmarks.md). PRAGMA optimize analyses only what changed.
    last = {"at": time.monotonic()}

    def _optimize(dbapi_conn) -> None:
        try:
            dbapi_conn.execute("PRAGMA optimize")
        except sqlite3.Error:  # busy or read-only: statistics can wait for the next round
            pass

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn, _record):
        if dbapi_conn is not None and time.monotonic() - last["at"] > OPTIMIZE_EVERY:
            last["at"] = time.monotonic()
            _optimize(dbapi_conn)

    @event.listens_for(engine, "close")
    def _on_close(dbapi_conn, _record):
        _optimize(dbapi_conn)


def init_app(app) -> None:
    engine = make_engine(app.config["DATABASE_URL"], busy_timeout=float(app.config["DATABASE_BUSY_TIMEOUT"]))
    app.extensions["registry.engine"] = engine
    app.extensions["registry.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(close_session)


def get_engine() -> Engine:
    return current_app.extensions["registry.engine"]


def new_session() -> Session:
    """A session outside the request cycle (CLI, background work); the caller closes it."""
    injected = current_app.config.get("SESSION")
    if injected is not None:
        return injected
    return current_app.extensions["registry.sessionmaker"]()


@contextmanager
def read_connection():
    """A Core connection for hot read paths: no ORM session to build and tear down.

    Tests inject a session bound to their own transaction; reads then go through it so they
    see that transaction's rows.
    """
    injected = current_app.config.get("SESSION")
    if injected is not None:
        yield injected.connection()
        return
    with current_app.extensions["registry.engine"].connect() as conn:
        yield conn


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None and session is not current_app.config.get("SESSION"):
        session.close()
