"""Migrations build the schema on a fresh database, match the models, and tear down."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from registry.cli import alembic_config


@pytest.fixture
def fresh_url(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"registry_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_check_downgrade(fresh_url):
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "head")
    engine = create_engine(fresh_url)
    assert {"certificates", "offsets", "status_lists", "audit_log", "bodies"} <= set(inspect(engine).get_table_names())
    command.check(cfg)  # raises if the models and the migrations disagree
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
