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
@click.option("--role", type=click.Choice(["operator", "procurement"]), default="operator", show_default=True)
@click.option("--callback-client-id", default=None, help="procurement: the id the registry presents at the "
              "requester's {source}/auth/token before answering a PACT request.")
@click.option("--callback-client-secret", default=None, help="procurement: the secret that goes with it "
              "(stored encrypted under the key-encryption key).")
def create_operator_client(name: str, role: str, callback_client_id: str | None, callback_client_secret: str | None):
    """Create an OAuth client (registry operator, or procurement); prints {"clientId", "clientSecret"}."""
    from . import auth
    from .services import audit

    if role != "procurement" and (callback_client_id or callback_client_secret):
        raise click.UsageError("Callback credentials belong to procurement clients")
    if bool(callback_client_id) != bool(callback_client_secret):
        raise click.UsageError("Give both --callback-client-id and --callback-client-secret, or neither")
    session = new_session()
    try:
        if role == "procurement":
            from .services import procurement

            client, secret = procurement.create_client(session, current_app.config, name=name,
                                                       callback_client_id=callback_client_id,
                                                       callback_client_secret=callback_client_secret, actor="cli")
        else:
            client, secret = auth.create_client(session, name=name, role="operator")
            audit.record(session, actor="cli", action="client.created", target_type="client",
                         target_id=client.client_id, details={"name": name, "role": "operator"})
        session.commit()
    finally:
        session.close()
    click.echo(json.dumps({"clientId": client.client_id, "clientSecret": secret}))


@registry_cli.command("worker")
@click.option("--once", is_flag=True, help="Run one round of every task and exit.")
def worker(once: bool):
    """Deliver webhooks and PACT callbacks, run export jobs and other background tasks."""
    from . import worker as _worker

    _worker.load_tasks()
    handled = _worker.run(current_app._get_current_object(), once=once)
    click.echo(f"handled {handled}", err=True)


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
@click.option("--formats", default="svg,png,pdf", show_default=True, help="Files per label in a ZIP.")
@click.option("--lang", type=click.Choice(["zh", "en", "zh-en"]), default="zh-en", show_default=True)
@click.option("--mode", type=click.Choice(["link", "offline"]), default="link", show_default=True)
@click.option("--width", type=float, default=None, help="Printed width in mm (whole mm; default per design).")
@click.option("--variant", type=click.Choice(["standard", "compact"]), default="standard", show_default=True,
              help="compact: small packs, 15 mm and up (grade, figure, QR; link mode only).")
@click.option("--colour", type=click.Choice(["colour", "mono"]), default="colour", show_default=True,
              help="mono: black only, for one-colour printing.")
@click.option("--print", "print_", type=click.Choice(["rgb", "cmyk"]), default="rgb", show_default=True,
              help="cmyk: device CMYK PDF for printers (PDF files and sheets only).")
@click.option("--status", default="active", show_default=True, help="Only certificates in this status (active, suspended, revoked, expired; 'all' for every one).")
def export_labels_cmd(body_code: str, out_path: str, fmt: str, formats: str, lang: str, mode: str,
                      width: float | None, variant: str, colour: str, print_: str, status: str):
    """Export the labels of a body's certificates, with a progress bar and a summary of warnings."""
    import os

    from sqlalchemy import select

    from . import jobs, labels
    from .models import Body, Certificate

    options = {"format": fmt, "formats": [f.strip() for f in formats.split(",") if f.strip()], "lang": lang,
               "mode": mode, "width": labels.quantise_width(width), "variant": variant, "colour": colour,
               "print": print_}
    try:
        labels.check_options(options)
    except labels.LabelError as err:
        raise click.UsageError(err.detail) from err
    session = new_session()
    out = Path(out_path)
    partial = out.with_name(out.name + ".part")
    try:
        body = session.scalars(select(Body).where(Body.code == body_code)).first()
        if body is None:
            raise click.UsageError(f"No body with code {body_code}")
        query = select(Certificate.id).where(Certificate.body_id == body.id).order_by(Certificate.number)
        if status != "all":
            from .services.lookup import status_filter
            from .models import utcnow

            query = query.where(*status_filter(status, utcnow()))
        ids = list(session.scalars(query))
        if not ids:
            raise click.UsageError("No certificates to export")
        try:
            with click.progressbar(length=len(ids), label="Rendering labels", file=sys.stderr) as bar, \
                    partial.open("wb") as fh:
                warnings = jobs.write_export(jobs.iter_label_data(session, ids), len(ids), options, fh,
                                             progress=lambda *_: bar.update(1))
            os.replace(partial, out)
        except labels.LabelError as err:
            partial.unlink(missing_ok=True)
            raise click.ClickException(err.detail) from err
    finally:
        session.close()
    click.echo(f"{len(ids)} labels → {out_path} ({out.stat().st_size} bytes)", err=True)
    summary = jobs.summarise_warnings(warnings)
    if summary["warningCount"]:
        click.echo(f"{summary['warningCount']} warnings:", err=True)
        for row in summary["warningCounts"]:
            click.echo(f"  {row['labels']} label(s): {row['message']}", err=True)
    else:
        click.echo("no warnings", err=True)


@registry_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup_cmd(path: str):
    """Write a consistent copy of the database to PATH (SQLite online backup, or pg_dump)."""
    from .backup import BackupError, backup

    try:
        backup(current_app.config["DATABASE_URL"], Path(path))
    except BackupError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"backup written to {path} ({Path(path).stat().st_size} bytes); private keys in it are "
               "encrypted under the key-encryption key, which it does not contain", err=True)


@registry_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
def restore_cmd(path: str, yes: bool):
    """Replace the database's contents with the backup at PATH (stop the service first)."""
    from .backup import BackupError, restore

    if not yes:
        click.confirm(f"Replace every row of {current_app.config['DATABASE_URL']} with {path}?", abort=True)
    try:
        restore(current_app.config["DATABASE_URL"], Path(path))
    except BackupError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"restored from {path}; run `flask --app wsgi db upgrade` if the backup predates this version",
               err=True)


def register(app) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(operator_cli)
    app.cli.add_command(registry_cli)
