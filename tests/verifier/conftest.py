from __future__ import annotations

import pytest

from .helpers import World


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """The CLI's default data directory must never be the real ~/.cache during tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
