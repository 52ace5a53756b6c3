"""Start-up and health checks: is the key-encryption key the one this database's keys are under?

A wrong but well-formed key would otherwise start, answer ``/healthz`` with 200, and let the
operator create bodies and rotate keys under it: keys no later start can use with the right one.
The database keeps a check value, a Fernet token of a fixed text under the key (set on first
start, or after proving the key on an existing private key); a key that cannot decrypt it is refused.
"""

from __future__ import annotations

import logging
import threading
import time

from cryptography.fernet import Fernet, InvalidToken
from flask import g
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from .config import ConfigError
from .models import RegistrySetting, SigningKey, utcnow

log = logging.getLogger("registry")

SETTING = "kek-check"
PLAINTEXT = b"carbon-label-registry key-encryption key check v1"
#: While the check could not run (database unreachable or not migrated), retry at most this often.
RETRY_SECONDS = 5.0

WRONG_KEY = ("The key-encryption key (REGISTRY_MASTER_KEY or REGISTRY_MASTER_KEY_FILE) is not the one "
             "this database's private keys are encrypted under: {why}. Start with the right key; "
             "the registry refuses to run, so nothing is signed or stored under a wrong key.")


class KeyCheck:
    """The outcome of the last check, kept per app: ``ok``, ``failed`` or ``unchecked``."""

    def __init__(self) -> None:
        self.state = "unchecked"
        self.detail = "not run yet"
        self.checked_at = 0.0
        self.lock = threading.Lock()


def run(session: Session, fernet: Fernet) -> None:
    """Check the key against the database, recording a check value if there is none yet.

    Raises ``ConfigError`` when the key cannot decrypt the check value or the registry's newest
    private key; ``SQLAlchemyError`` when the database cannot be read.
    """
    row = session.get(RegistrySetting, SETTING)
    if row is not None:
        try:
            ok = fernet.decrypt(row.value.encode()) == PLAINTEXT
        except InvalidToken:
            ok = False
        if not ok:
            raise ConfigError(WRONG_KEY.format(why="it does not decrypt the stored check value"))
        return
    # No check value yet (a database from before it existed): prove the key on a stored private key.
    key = session.scalars(select(SigningKey).order_by(SigningKey.id.desc()).limit(1)).first()
    if key is not None:
        try:
            fernet.decrypt(key.private_key_encrypted)
        except InvalidToken:
            raise ConfigError(WRONG_KEY.format(why=f"it does not decrypt the private key {key.kid}")) from None
    # The check read in a deferred transaction; the one write takes the lock (BEGIN IMMEDIATE).
    session.commit()
    g.db_write = True
    session.add(RegistrySetting(name=SETTING, value=fernet.encrypt(PLAINTEXT).decode(), updated_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:  # another process recorded it at the same moment: check against theirs
        session.rollback()
        run(session, fernet)


def check_app(app, *, at_start: bool = False) -> KeyCheck:
    """Run the check for ``app`` and record its outcome; raise ``ConfigError`` if the key is wrong.

    A database that cannot be read (unreachable, or not migrated yet: ``flask db upgrade`` itself
    creates the app) leaves the check ``unchecked``; requests retry it until it runs.
    """
    from .db import new_session

    state: KeyCheck = app.extensions.setdefault("registry.key_check", KeyCheck())
    fernet = Fernet(app.config["MASTER_KEY"].encode())
    with state.lock, app.app_context():
        g.db_write = False  # reads only, unless the check value must be recorded
        state.checked_at = time.monotonic()
        session = new_session()
        injected = session is app.config.get("SESSION")
        try:
            run(session, fernet)
        except ConfigError as err:
            state.state, state.detail = "failed", str(err)
            log.error("key check failed: %s", err)
            raise
        except (DBAPIError, SQLAlchemyError) as err:
            if not injected:
                session.rollback()
            state.state, state.detail = "unchecked", f"database not readable: {type(err).__name__}"
            (log.warning if at_start else log.info)("key check postponed: %s", err)
        else:
            state.state, state.detail = "ok", "ok"
        finally:
            if not injected:
                session.close()
    if at_start and not app.config.get("SESSION"):
        # Nothing pooled survives into forked gunicorn workers.
        app.extensions["registry.engine"].dispose()
    return state


def ensure(app) -> KeyCheck:
    """The check's state, re-running it (at most every few seconds) while it has not run."""
    state: KeyCheck = app.extensions["registry.key_check"]
    if state.state == "unchecked" and time.monotonic() - state.checked_at >= RETRY_SECONDS:
        try:
            check_app(app)
        except ConfigError:
            pass
    return state
