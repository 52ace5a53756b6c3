"""A wrong key-encryption key is refused at start-up; /healthz names what is broken; files are private."""

from __future__ import annotations

import logging
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete

from registry import create_app
from registry.cli import alembic_config
from registry.config import ConfigError
from registry.db import new_session
from registry.models import RegistrySetting

from ..conftest import MASTER_KEY, app_config
from ..factories import commit_body
from ..servers import Gunicorn

OTHER_KEY = Fernet.generate_key().decode()


def _migrated(tmp_path) -> str:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    return url


def test_a_wrong_key_is_refused_at_start(tmp_path):
    url = _migrated(tmp_path)
    commit_body(create_app(app_config(url)))  # the right key: stores a body's private key and the check value
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append
    logging.getLogger("registry").addHandler(handler)
    try:
        with pytest.raises(ConfigError, match="not the one"):
            create_app(app_config(url, MASTER_KEY=OTHER_KEY))
    finally:
        logging.getLogger("registry").removeHandler(handler)
    assert any(r.getMessage().startswith("key check failed") for r in records)
    create_app(app_config(url))  # the right key still starts


def test_gunicorn_does_not_start_with_a_wrong_key(tmp_path):
    url = _migrated(tmp_path)
    commit_body(create_app(app_config(url)))
    server = Gunicorn(url, tmp_path / "instance", workers=2, master_key=OTHER_KEY)
    with pytest.raises(RuntimeError, match="exited") as err:
        server.start()
    assert "not the one this database's private keys are encrypted under" in str(err.value)


def test_a_database_without_check_value_is_checked_on_its_keys(tmp_path):
    url = _migrated(tmp_path)
    app = create_app(app_config(url))
    commit_body(app)
    with app.app_context():
        session = new_session()
        session.execute(delete(RegistrySetting))
        session.commit()
        session.close()
    with pytest.raises(ConfigError, match="does not decrypt the private key"):
        create_app(app_config(url, MASTER_KEY=OTHER_KEY))
    app = create_app(app_config(url))  # the right key proves itself and records the check value
    with app.app_context():
        session = new_session()
        assert session.get(RegistrySetting, "kek-check") is not None
        session.close()


def test_healthz_reports_an_unreachable_database(tmp_path):
    app = create_app(app_config("postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2"))
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable" and body["database"] == "unreachable"
    assert body["keyCheck"] == "unchecked"


def test_a_wrong_key_found_after_start_stops_writes(tmp_path):
    """Started before the database was migrated, the app checks once it can, and then refuses."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    app = create_app(app_config(url))
    client = app.test_client()
    command.upgrade(alembic_config(url), "head")
    commit_body(create_app(app_config(url, MASTER_KEY=OTHER_KEY)))  # another key owns this database
    app.extensions["registry.key_check"].checked_at = 0
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["keyCheck"] == "failed" and "REGISTRY_MASTER_KEY" in resp.get_json()["detail"]
    resp = client.post("/api/v1/bodies", json={})
    assert resp.status_code == 503 and resp.get_json()["type"].endswith("/key-check-failed")


def test_instance_folder_and_database_are_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(instance))
    for name in ("DATABASE_URL", "MASTER_KEY", "MASTER_KEY_FILE"):
        monkeypatch.delenv(f"REGISTRY_{name}", raising=False)
    app = create_app({"ENV": "development", "LOG_LEVEL": "WARNING"})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    create_app({"ENV": "development", "LOG_LEVEL": "WARNING"}).test_client().get("/healthz")
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    files = sorted(p.name for p in instance.iterdir())
    assert "registry.sqlite3" in files and "master.key" in files
    for path in instance.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_an_existing_world_readable_instance_is_tightened(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    db = instance / "registry.sqlite3"
    db.touch()
    db.chmod(0o644)
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    create_app({"ENV": "development", "LOG_LEVEL": "WARNING"})
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
