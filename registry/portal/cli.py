"""``flask --app wsgi operator create-user``: the first accounts of people."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import new_session
from ..errors import RegistryError
from . import accounts


@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--body", "body_id", default=None, help="The body's id (for body-admin and certifier).")
@with_appcontext
def create_user(email: str, role: str, body_id: str | None):
    """Create a person's account; prints {"email", "password", "totpSecret"} (the secret is enrolled)."""
    from ..models import Body

    session = new_session()
    try:
        if body_id and session.get(Body, body_id) is None:
            raise click.UsageError(f"No body {body_id}")
        user, password, secret = accounts.create_user(session, email=email, role=role, body_id=body_id,
                                                      master_key=current_app.config["MASTER_KEY"], actor="cli")
        session.commit()
    except RegistryError as err:
        session.rollback()
        raise click.UsageError(err.detail) from err
    finally:
        session.close()
    click.echo(json.dumps({"email": user.email, "password": password, "totpSecret": secret}))
