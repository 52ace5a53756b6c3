"""Carbon label registry."""

from __future__ import annotations

import os

from flask import Flask

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    from .http import Flask as RegistryFlask

    instance = os.environ.get("REGISTRY_INSTANCE_PATH")
    app = RegistryFlask(__name__, instance_relative_config=True,
                instance_path=os.path.abspath(instance) if instance else None)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env("REGISTRY")
    if test_config:
        app.config.from_mapping(test_config)
    config.validate(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from . import db, http, i18n
    from .signing import Signer

    db.init_app(app)
    app.extensions["registry.signer"] = Signer(app.config["MASTER_KEY"])
    from . import keycheck

    keycheck.check_app(app, at_start=True)  # refuses a key-encryption key the database was not made with
    from .auth import _RegistryKeys

    app.extensions["registry.token_keys"] = _RegistryKeys()
    http.init_app(app)
    i18n.init_app(app)
    from . import hardening

    hardening.init_app(app)
    from . import tlog

    tlog.init_app(app)

    from .api import bp, public

    app.register_blueprint(bp)
    app.register_blueprint(public)
    from .api import pact
    from .api.verify import HotAnswers

    app.wsgi_app = HotAnswers(app, app.wsgi_app)
    pact.register(app)
    from .public_pages import bp as pages

    app.register_blueprint(pages)

    from . import portal

    portal.init_app(app)

    from .cli import register

    register(app)
    if not app.config.get("SESSION"):  # a test's injected transaction is no start of the registry
        tlog.checkpoint_at_start(app)
    return app
