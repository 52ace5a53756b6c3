"""Configuration defaults and the startup check.

Values flow: DEFAULTS → ``REGISTRY_*`` environment variables → ``test_config`` → ``validate``.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

DEFAULTS: dict[str, object] = {
    # "production" refuses to start without a key-encryption key and a public URL;
    # "development" creates a key-encryption key file in the instance folder.
    "ENV": "production",
    "DATABASE_URL": None,
    # Seconds a writer waits for another's lock before the request answers 503 database-busy.
    "DATABASE_BUSY_TIMEOUT": 15,
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
    # None: an SQLite file in the instance folder, shared by every worker of this instance;
    # redis://… to share limits across hosts; memory:// counts per worker process.
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_ENABLED": True,
    "LABEL_RENDER_WAIT": 0.0,  # seconds a label render waits for the slot: waiting holds a worker
    # Share of one core that cold label renders may take, so verification keeps the rest.
    "LABEL_RENDER_SHARE": 0.1,
    # Rendered PNG and PDF labels kept on disk for every worker of the instance (and across restarts).
    "LABEL_DISK_CACHE_MB": 512,
    "EXPORT_DIR": None,  # finished label exports; default <instance>/exports
    "EXPORT_TTL": 86400,  # seconds an export's file is kept
    "EXPORT_MAX_ACTIVE": 5,  # exports a body may have queued or running at once
    "BODY_KEY_ALGORITHM": "EdDSA",
    "LOG_LEVEL": "INFO",
    # Flask refuses larger request bodies with 413; a full verify batch is well under it.
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "SESSION": None,  # tests inject a Session bound to an outer transaction
    # Webhooks and PACT callbacks: https to public addresses only, unless this (development and
    # tests only; refused in production) lets them reach http and private, loopback or link-local hosts.
    "ALLOW_PRIVATE_CALLBACKS": False,
    "CALLBACK_CA_FILE": None,  # a CA bundle for callback TLS instead of the system's (tests)
    "CALLBACK_TIMEOUT": 10,
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_RETRY_BASE_SECONDS": 30,  # doubles per attempt: 30 s, 1 min, 2 min … capped below
    "DELIVERY_RETRY_MAX_SECONDS": 6 * 3600,
    "DELIVERY_LEASE_SECONDS": 60,  # longer than CALLBACK_TIMEOUT: no two workers send one delivery at once
    "DELIVERY_BATCH": 20,
    "EXPIRY_SCAN_SECONDS": 30,
}

DEV_PUBLIC_URL = "http://127.0.0.1:5000"


class ConfigError(RuntimeError):
    """The configuration cannot run the registry; the message says what to set."""


def validate(app) -> None:
    """Fill derived settings and refuse configurations that would run insecurely."""
    cfg = app.config
    if not cfg.get("DATABASE_URL"):
        private_instance(Path(app.instance_path))
        cfg["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'registry.sqlite3'}"
    production = cfg.get("ENV") == "production" and not cfg.get("TESTING")
    if not cfg.get("PUBLIC_URL"):
        if production:
            raise ConfigError("REGISTRY_PUBLIC_URL is not set: it is the base of every QR code, DID "
                              "and status-list URL (e.g. https://labels.example.org)")
        cfg["PUBLIC_URL"] = DEV_PUBLIC_URL
    cfg["PUBLIC_URL"] = str(cfg["PUBLIC_URL"]).rstrip("/")
    if production:
        check_did_web_url(cfg["PUBLIC_URL"])
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
    if production and cfg.get("ALLOW_PRIVATE_CALLBACKS"):
        raise ConfigError("REGISTRY_ALLOW_PRIVATE_CALLBACKS is for development and tests only: in production "
                          "callbacks go to https URLs on public addresses")
    from .signing import check_master_key

    check_master_key(cfg["MASTER_KEY"])


def check_did_web_url(public_url: str) -> None:
    """Refuse a public URL that did:web cannot express: our DIDs are derived from it, and did:web
    resolves only over https to a domain name (never an IP address), at the root of the host."""
    parts = urlsplit(public_url)
    problem = None
    if parts.scheme != "https":
        problem = "it is not https (did:web documents are fetched only over https)"
    elif not parts.hostname:
        problem = "it has no host"
    elif _is_ip_address(parts.hostname):
        problem = "its host is an IP address (a did:web names a domain)"
    elif parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        problem = "it has a path, query, fragment or user name (the registry's DID is did:web:<host>)"
    if problem:
        raise ConfigError(f"REGISTRY_PUBLIC_URL {public_url!r} cannot be a did:web: {problem}. "
                          "Use the https URL of a domain name, e.g. https://labels.example.org")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def private_instance(instance: Path) -> Path:
    """Create the instance folder readable by its owner only (0700), tightening an existing one."""
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if instance.stat().st_mode & 0o077:
            instance.chmod(0o700)
    except OSError:  # not ours to change: the operator's choice
        pass
    return instance


def _development_master_key(instance: Path) -> str:
    from cryptography.fernet import Fernet

    private_instance(instance)
    path = instance / "master.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return path.read_text().strip()
