"""Engine, declarative base and the per-request session."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

from flask import current_app, g
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


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets real transactions, foreign keys and WAL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15})
        _sqlite_hooks(engine, url)
        return engine
    return create_engine(url, pool_pre_ping=True)


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
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")

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
    engine = make_engine(app.config["DATABASE_URL"])
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
