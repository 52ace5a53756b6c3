"""Thin command-line shells over the services: ``flask --app wsgi db|operator|registry …``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .db import new_session

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
operator_cli = AppGroup("operator", help="Registry operator accounts.")
registry_cli = AppGroup("registry", help="Registry keys, bodies and demo data.")


def alembic_config(url: str, connection=None):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"database at {revision}", err=True)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str):
    """Revert migrations down to REVISION (e.g. base)."""
    from alembic import command

    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("current")
def db_current():
    """Show the applied revision."""
    from alembic import command

    command.current(alembic_config(current_app.config["DATABASE_URL"]))


@operator_cli.command("create-client")
@click.argument("name")
def create_operator_client(name: str):
    """Create an OAuth client with the registry-operator role; prints {"clientId", "clientSecret"}."""
    from . import auth
    from .services import audit

    session = new_session()
    try:
        client, secret = auth.create_client(session, name=name, role="operator")
        audit.record(session, actor="cli", action="client.created", target_type="client",
                     target_id=client.client_id, details={"name": name, "role": "operator"})
        session.commit()
    finally:
        session.close()
    click.echo(json.dumps({"clientId": client.client_id, "clientSecret": secret}))


@registry_cli.command("create-key")
def create_registry_key():
    """Create the registry's signing key if it has none; prints its kid."""
    session = new_session()
    try:
        key = current_app.extensions["registry.signer"].registry_key(session, current_app.config["PUBLIC_URL"])
        session.commit()
        click.echo(key.kid)
    finally:
        session.close()


@registry_cli.command("rotate-key")
def rotate_registry_key():
    """Retire the registry's key (it stays in the JWKS) and create a new one."""
    from . import tlog
    from .models import utcnow
    from .services import audit

    session = new_session()
    try:
        signer = current_app.extensions["registry.signer"]
        old = signer.registry_key(session, current_app.config["PUBLIC_URL"])
        old.active_until = utcnow()
        session.flush()
        new = signer.registry_key(session, current_app.config["PUBLIC_URL"])
        audit.record(session, actor="cli", action="registry.key-rotated", target_type="registry",
                     target_id="registry", details={"retired": old.kid, "new": new.kid})
        tlog.append(session, "registry.key-rotated", document={"retired": old.kid, "new": new.kid})
        session.commit()
        click.echo(new.kid)
    finally:
        session.close()


@registry_cli.command("worker")
@click.option("--once", is_flag=True, help="Run one round of every task and exit.")
def worker(once: bool):
    """Deliver webhooks and PACT callbacks, run export jobs and other background tasks."""
    from . import worker as _worker

    _worker.load_tasks()
    handled = _worker.run(current_app._get_current_object(), once=once)
    click.echo(f"handled {handled}", err=True)


@registry_cli.command("demo")
def seed_demo():
    """Load demonstration data (operator, bodies, categories, certificates of every kind)."""
    from .demo import seed

    session = new_session()
    try:
        summary = seed(session, current_app)
        session.commit()
    finally:
        session.close()
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@registry_cli.command("export-labels")
@click.option("--body", "body_code", required=True, help="The body's code (prefix of its certificate numbers).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", type=click.Choice(["zip", "pdf-sheet"]), default="zip", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en", "zh-en"]), default="zh-en", show_default=True)
@click.option("--mode", type=click.Choice(["link", "offline"]), default="link", show_default=True)
@click.option("--status", default="active", show_default=True, help="Only certificates in this status ('all' for every one).")
def export_labels_cmd(body_code: str, out_path: str, fmt: str, lang: str, mode: str, status: str):
    """Export the labels of a body's certificates, with a progress bar."""
    from sqlalchemy import select

    from .api.labels import export, label_data
    from .models import Body, Certificate

    session = new_session()
    try:
        body = session.scalars(select(Body).where(Body.code == body_code)).first()
        if body is None:
            raise click.UsageError(f"No body with code {body_code}")
        query = select(Certificate).where(Certificate.body_id == body.id).order_by(Certificate.number)
        if status != "all":
            query = query.where(Certificate.status == status)
        items = [label_data(c) for c in session.scalars(query)]
        if not items:
            raise click.UsageError("No certificates to export")
        with click.progressbar(length=len(items), label="Rendering labels", file=sys.stderr) as bar:
            content, _, _ = export(items, {"format": fmt, "formats": ["svg", "png", "pdf"], "lang": lang,
                                          "mode": mode, "width": None}, progress=lambda *_: bar.update(1))
    finally:
        session.close()
    Path(out_path).write_bytes(content)
    click.echo(f"{len(items)} labels → {out_path} ({len(content)} bytes)", err=True)


def register(app) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(operator_cli)
    app.cli.add_command(registry_cli)
