"""Real database with real migrations; each test runs in a transaction rolled back afterwards."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from registry import create_app
from registry.cli import alembic_config
from registry.db import make_engine

MASTER_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="  # 32 bytes, URL-safe base64
PUBLIC_URL = "http://registry.test"


def pytest_report_header(config):
    return f"database: {_database_url_for_report()}"


def _database_url_for_report() -> str:
    return os.environ.get("REGISTRY_TEST_DATABASE_URL") or "SQLite (temporary file)"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.sqlite3'}"


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def engine(database_url):
    from alembic import command

    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        command.upgrade(alembic_config(database_url, connection=conn), "head")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    trans.rollback()
    conn.close()


def app_config(database_url: str, **extra) -> dict:
    cfg = {"TESTING": True, "DATABASE_URL": database_url, "MASTER_KEY": MASTER_KEY, "PUBLIC_URL": PUBLIC_URL,
           "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING", "LABEL_RENDER_SHARE": 1.0,
           # Argon2 at its real cost takes over a second a hash on the shared test machine.
           "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8192, "ARGON2_PARALLELISM": 1}
    cfg.update(extra)
    return cfg


@pytest.fixture
def app(session, database_url, tmp_path):
    app = create_app(app_config(database_url, SESSION=session))
    app.instance_path = str(tmp_path / "instance")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def signing_key():
    return ed25519.Ed25519PrivateKey.generate()


class LiveServer:
    """The app on a real socket (its own sessions, real commits), for HTTP clients and browsers."""

    def __init__(self, database_url: str, instance: Path, **config):
        holder = {}
        self.server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
        self.port = self.server.server_port
        # The public URL is where the server really is, so DIDs and status lists resolve.
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = holder["app"] = create_app(app_config(database_url, PUBLIC_URL=self.url, **config))
        self.app.instance_path = str(instance)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_server(engine, database_url, tmp_path_factory):
    """One live server per test session; its data is committed, so tests use unique names."""
    with LiveServer(database_url, tmp_path_factory.mktemp("live-instance")) as live:
        yield live


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under playwright; its background traffic off (the network is closed)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()
