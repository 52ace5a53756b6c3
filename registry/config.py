"""Configuration defaults and the startup check.

Values flow: DEFAULTS → ``REGISTRY_*`` environment variables → ``test_config`` → ``validate``.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS: dict[str, object] = {
    # "production" refuses to start without a key-encryption key and a public URL;
    # "development" creates a key-encryption key file in the instance folder.
    "ENV": "production",
    "DATABASE_URL": None,
    "PUBLIC_URL": None,
    "MASTER_KEY": None,
    "MASTER_KEY_FILE": None,
    "ACCESS_TOKEN_TTL": 900,
    "TRUST_LIST_TTL": 86400,
    "STATUS_LIST_TTL": 86400,
    # How long a CDN or browser may keep a verification answer; a revocation shows after at most this.
    "VERIFY_CACHE_SECONDS": 60,
    "RATELIMIT_TOKEN": "30 per minute",
    "RATELIMIT_PUBLIC": "600 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    "LABEL_RENDER_WAIT": 2.0,  # seconds a label render waits for the instance's render slot
    "EXPORT_DIR": None,  # finished label exports; default <instance>/exports
    "EXPORT_TTL": 86400,  # seconds an export's file is kept
    "EXPORT_MAX_ACTIVE": 5,  # exports a body may have queued or running at once
    "BODY_KEY_ALGORITHM": "EdDSA",
    "LOG_LEVEL": "INFO",
    # Flask refuses larger request bodies with 413; a full verify batch is well under it.
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "SESSION": None,  # tests inject a Session bound to an outer transaction
}

DEV_PUBLIC_URL = "http://127.0.0.1:5000"


class ConfigError(RuntimeError):
    """The configuration cannot run the registry; the message says what to set."""


def validate(app) -> None:
    """Fill derived settings and refuse configurations that would run insecurely."""
    cfg = app.config
    if not cfg.get("DATABASE_URL"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        cfg["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'registry.sqlite3'}"
    production = cfg.get("ENV") == "production" and not cfg.get("TESTING")
    if not cfg.get("PUBLIC_URL"):
        if production:
            raise ConfigError("REGISTRY_PUBLIC_URL is not set: it is the base of every QR code, DID "
                              "and status-list URL (e.g. https://labels.example.org)")
        cfg["PUBLIC_URL"] = DEV_PUBLIC_URL
    cfg["PUBLIC_URL"] = str(cfg["PUBLIC_URL"]).rstrip("/")
    if not cfg.get("MASTER_KEY"):
        key_file = cfg.get("MASTER_KEY_FILE")
        if key_file:
            try:
                cfg["MASTER_KEY"] = Path(key_file).read_text().strip()
            except OSError as err:
                raise ConfigError(f"REGISTRY_MASTER_KEY_FILE {key_file!r} cannot be read: {err}") from err
        elif production:
            raise ConfigError("No key-encryption key: set REGISTRY_MASTER_KEY or REGISTRY_MASTER_KEY_FILE "
                              "(32 random bytes, URL-safe base64, e.g. from "
                              "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`). "
                              "Private signing keys are stored only encrypted under it.")
        else:
            cfg["MASTER_KEY"] = _development_master_key(Path(app.instance_path))
    from .signing import check_master_key

    check_master_key(cfg["MASTER_KEY"])


def _development_master_key(instance: Path) -> str:
    from cryptography.fernet import Fernet

    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "master.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return path.read_text().strip()
