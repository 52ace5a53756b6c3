"""The log is signed as the registry starts: a checkpoint of every entry before any request."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from registry import create_app, tlog
from registry.cli import alembic_config
from registry.db import make_engine
from registry.models import SigningKey, TlogCheckpoint, TlogEntry
from verifier import _tlog as t

from ..conftest import MASTER_KEY, app_config
from ..servers import Gunicorn
from ..verifier.test_tlog import naive_mth


@pytest.fixture
def own_database(tmp_path, database_url, is_postgres):
    """A migrated database of the test's own: on PostgreSQL a schema, else a SQLite file."""
    if is_postgres:
        schema = f"start_{uuid.uuid4().hex[:12]}"
        admin = make_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'start.sqlite3'}"
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    if is_postgres:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _append(engine, n: int) -> int:
    with engine.begin() as conn:
        return tlog.bulk_append(conn, [{"kind": "test", "n": i, "at": str(uuid.uuid4())} for i in range(n)])


def _stored(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(TlogCheckpoint.size, TlogCheckpoint.note).order_by(TlogCheckpoint.size)))


def _entries(engine) -> list[bytes]:
    with engine.connect() as conn:
        return list(conn.scalars(select(TlogEntry.entry).order_by(TlogEntry.idx)))


def test_a_checkpoint_of_the_whole_log_is_stored_at_start(own_database):
    url, engine = own_database
    _append(engine, 300)
    assert _stored(engine) == []
    app = create_app(app_config(url))
    # No request yet: the start alone signed the log (300 entries and its key's creation).
    entries = _entries(engine)
    assert len(entries) == 301 and [row.size for row in _stored(engine)] == [301]
    note = _stored(engine)[0].note
    client = app.test_client()
    cp = t.verify_checkpoint(note, client.get("/log/key").text.strip())
    assert cp.size == 301 and cp.root == naive_mth(entries)
    assert client.get("/log/checkpoint").text == note  # served as signed at start
    # and the start warmed what proofs read: a proof of another leaf sends no query
    from .test_tlog import statements

    st = app.extensions["registry.tlog"]
    with app.extensions["registry.engine"].connect() as conn, statements(conn) as seen:
        proof = tlog.Tree(conn, 301, st.tiles, st.edge).inclusion(200)
    assert seen == []
    t.verify_inclusion(t.leaf_hash(entries[200]), 200, 301, proof, cp.root)
    # a start that finds the log covered signs nothing; one after growth covers the growth
    create_app(app_config(url))
    assert [row.size for row in _stored(engine)] == [301]
    _append(engine, 40)
    create_app(app_config(url))
    assert [row.size for row in _stored(engine)] == [301, 341]


def test_a_start_on_an_empty_or_unmigrated_database_signs_nothing(own_database, tmp_path):
    url, engine = own_database
    create_app(app_config(url))  # an empty log: no checkpoint, and no log key made for it
    assert _stored(engine) == []
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SigningKey).where(SigningKey.owner == "log")) == 0
    app = create_app(app_config(f"sqlite:///{tmp_path / 'bare.sqlite3'}"))  # not migrated: starts all the same
    assert tlog.checkpoint_at_start(app) is None


def test_processes_starting_at_once_store_one_checkpoint_under_one_key(own_database):
    url, engine = own_database
    apps = [create_app(app_config(url)) for _ in range(4)]  # the log is empty: nothing signed yet
    _append(engine, 600)
    barrier = threading.Barrier(len(apps))
    out: list = [None] * len(apps)

    def start(n):
        barrier.wait()
        out[n] = tlog.checkpoint_at_start(apps[n])

    threads = [threading.Thread(target=start, args=(n,)) for n in range(len(apps))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    with engine.connect() as conn:
        keys = conn.scalar(select(func.count()).select_from(SigningKey).where(SigningKey.owner == "log"))
    assert keys == 1
    stored = _stored(engine)
    assert [row.size for row in stored] == [601]
    signed = [cp for cp in out if cp is not None]
    assert signed and all(cp.text == stored[0].note for cp in signed)


def test_gunicorn_signs_once_before_serving(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    _append(engine, 1000)
    with Gunicorn(url, tmp_path / "instance", workers=2, master_key=MASTER_KEY):
        stored = _stored(engine)
        assert [row.size for row in stored] == [1001]
    engine.dispose()
