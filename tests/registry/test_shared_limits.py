"""Rate limits and metrics hold across gunicorn workers (SQLite file) and across instances (Redis)."""

from __future__ import annotations

import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ..conftest import MASTER_KEY
from ..servers import Gunicorn

LIMITED = {"REGISTRY_RATELIMIT_ENABLED": "true", "REGISTRY_RATELIMIT_PUBLIC": "4 per minute"}
REDIS_DB = int(os.environ.get("REGISTRY_TEST_REDIS_DB", "1"))
REDIS_URI = f"redis://127.0.0.1:6379/{REDIS_DB}"


def _hit(urls: list[str]) -> list[int]:
    # The limits count in fixed one-minute windows: a burst that straddles a window's end would be
    # allowed twice over. Start it well inside a window.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    with ThreadPoolExecutor(max_workers=16) as pool:
        # A new connection each time: gunicorn hands each to whichever worker accepts it first.
        return list(pool.map(lambda u: httpx.get(u, headers={"Accept": "application/json"}, timeout=30).status_code,
                             urls))


def _requests_counted(url: str, endpoint: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("registry_http_requests_total{") and f'endpoint="{endpoint}"' in line)


def test_limits_and_metrics_cover_every_worker(engine, database_url, tmp_path):
    instance = tmp_path / "instance"
    with Gunicorn(database_url, instance, workers=3, master_key=MASTER_KEY, env=LIMITED) as server:
        codes = _hit([f"{server.url}/v/no-such-certificate"] * 16)
        assert codes.count(429) == 12 and codes.count(404) == 4, codes
        # Whichever worker answers /metrics, it reports the requests of all of them.
        assert {_requests_counted(server.url, "/v/<cert_id>") for _ in range(6)} == {16.0}
    limits_file = instance / "ratelimit.sqlite3"
    assert limits_file.exists() and stat.S_IMODE(limits_file.stat().st_mode) & 0o077 == 0


@pytest.fixture
def redis_db():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URI)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URI}")
    client.flushdb()  # our own database number only
    yield client
    client.flushdb()


def test_limits_hold_across_instances_sharing_redis(engine, database_url, tmp_path, redis_db):
    env = {**LIMITED, "REGISTRY_RATELIMIT_STORAGE_URI": REDIS_URI}
    hosts = [Gunicorn(database_url, tmp_path / name, workers=2, master_key=MASTER_KEY, env=env).launch()
             for name in ("a", "b")]
    try:
        for host in hosts:
            host.wait()
        codes = _hit([f"{host.url}/v/no-such-certificate" for host in hosts] * 8)
    finally:
        for host in hosts:
            host.stop()
    assert codes.count(429) == 12 and codes.count(404) == 4, codes
    assert redis_db.keys("LIMITS*") or redis_db.dbsize() > 0


def test_an_unreachable_store_falls_back_to_per_worker_limits(session, database_url):
    from registry import create_app

    from ..conftest import app_config

    app = create_app(app_config(database_url, SESSION=session, RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC="3 per minute",
                                RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0"))
    client = app.test_client()
    codes = [client.get("/v/no-such-certificate", headers={"Accept": "application/json"}).status_code
             for _ in range(5)]
    assert codes == [404, 404, 404, 429, 429]
