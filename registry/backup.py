"""Online backup and restore of the registry's database.

SQLite: the online backup API (a consistent copy while the registry keeps serving). PostgreSQL:
``pg_dump --format=custom`` and ``pg_restore``, which must be on the PATH (the client tools of
the server's major version). Private keys stay what they are in the database, Fernet tokens
under the key-encryption key, so a backup is only as useful as the key kept apart from it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .db import sqlite_path


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` (mode 0600). Raises BackupError."""
    target = Path(target)
    part = target.with_name(target.name + ".part")
    _private_file(part)
    try:
        source = sqlite_path(database_url)
        if source is not None:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
            dst = sqlite3.connect(part)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        elif database_url.startswith("postgresql"):
            _pg("pg_dump", database_url, ["--format=custom", "--no-owner", f"--file={part}"])
        else:
            raise BackupError(f"No backup method for {make_url(database_url).get_backend_name()}")
        os.replace(part, target)
    except sqlite3.Error as err:
        raise BackupError(f"SQLite backup failed: {err}") from err
    finally:
        part.unlink(missing_ok=True)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with the backup at ``source``. Raises BackupError."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    target = sqlite_path(database_url)
    if target is not None:
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "alembic_version" not in tables:
                    raise BackupError(f"{source} is not a registry backup (no alembic_version table)")
                dst = sqlite3.connect(target, timeout=30)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.DatabaseError as err:
            raise BackupError(f"{source} is not an SQLite registry backup: {err}") from err
    elif database_url.startswith("postgresql"):
        _pg("pg_restore", database_url, ["--clean", "--if-exists", "--no-owner", "--single-transaction",
                                         "--exit-on-error", str(source)], dbname_flag=True)
    else:
        raise BackupError(f"No restore method for {make_url(database_url).get_backend_name()}")


def _private_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _pg(tool: str, database_url: str, args: list[str], *, dbname_flag: bool = False) -> None:
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} is not on the PATH: install the PostgreSQL client tools of the server's "
                          "major version (Debian: postgresql-client)")
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:  # never on the command line, where other accounts can read it
        env["PGPASSWORD"] = url.password
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    cmd = [exe, *args, f"--dbname={conninfo}"] if dbname_flag else [exe, *args, conninfo]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
