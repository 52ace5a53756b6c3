"""What the benchmarks share: the key-encryption key of throwaway databases, a migrated registry
app, and the product category every benchmark issues in."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MASTER_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="


def migrated_app(url: str, public_url: str, **config):
    """The registry app on ``url``, migrated to the newest schema first."""
    from alembic import command

    from registry import create_app
    from registry.cli import alembic_config

    command.upgrade(alembic_config(url), "head")
    return create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY, "PUBLIC_URL": public_url,
                       "LOG_LEVEL": "WARNING", **config})


def add_cement(session) -> None:
    """The category the benchmarks issue in, with a benchmark value so every kind can be graded."""
    from registry.services import accreditation

    accreditation.put_category(session, "cement", {
        "name": "Cement", "nameZh": "水泥", "declaredUnitOfMeasurement": "kilogram",
        "benchmark": {"value": "0.90", "standard": "bench", "source": "bench"}}, actor="bench")
