"""``flask registry backup`` and ``restore`` round trip on the test database; keys stay encrypted."""

from __future__ import annotations

import stat
import subprocess

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from registry import create_app
from registry.db import new_session
from registry.models import Body, SigningKey

from ..conftest import MASTER_KEY, app_config
from ..factories import commit_body


@pytest.fixture
def restore_url(database_url, tmp_path):
    """An empty database of the same kind to restore into."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_restore"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield url.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cli(url: str, *args: str):
    app = create_app(app_config(url))
    result = app.test_cli_runner().invoke(args=["registry", *args])
    assert result.exit_code == 0, result.output
    return app


def test_backup_and_restore_round_trip(engine, database_url, restore_url, tmp_path):
    app = create_app(app_config(database_url))
    body, _client_id, _secret = commit_body(app)
    with app.app_context():
        session = new_session()
        key = session.scalars(select(SigningKey).where(SigningKey.body_id == body.id)).one()
        der = Fernet(MASTER_KEY.encode()).decrypt(key.private_key_encrypted)
        raw = serialization.load_der_private_key(der, None).private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        encrypted = key.private_key_encrypted
        session.close()

    path = tmp_path / "registry.backup"
    _cli(database_url, "backup", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert der not in data and raw not in data
    if database_url.startswith("postgresql"):
        # The custom format is compressed: read it back as SQL, where bytea is written in hex.
        sql = subprocess.run(["pg_restore", "--file=-", str(path)], capture_output=True, check=True).stdout
        assert encrypted.hex().encode() in sql
        assert der.hex().encode() not in sql and raw.hex().encode() not in sql and raw not in sql
    else:
        assert encrypted in data

    restored = _cli(restore_url, "restore", "--yes", str(path))
    with restored.app_context():
        session = new_session()
        assert session.get(Body, body.id).name == body.name
        copy = session.scalars(select(SigningKey).where(SigningKey.body_id == body.id)).one()
        assert copy.private_key_encrypted == encrypted
        session.close()
    # The restored database starts under the same key, with its check value, and signs again.
    again = create_app(app_config(restore_url))
    assert again.extensions["registry.key_check"].state == "ok"
    with again.app_context():
        session = new_session()
        signer = again.extensions["registry.signer"]
        token = signer.sign({"x": 1}, session.get(SigningKey, copy.id), typ="JWT")
        assert token.count(".") == 2
        session.close()
    again.extensions["registry.engine"].dispose()
    restored.extensions["registry.engine"].dispose()


def test_restore_refuses_what_is_not_a_backup(database_url, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database" * 100)
    app = create_app(app_config(f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    result = app.test_cli_runner().invoke(args=["registry", "restore", "--yes", str(junk)])
    assert result.exit_code != 0 and "not" in result.output
