"""Carbon label registry."""

from __future__ import annotations

from flask import Flask

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
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
    from .auth import _RegistryKeys

    app.extensions["registry.token_keys"] = _RegistryKeys()
    http.init_app(app)
    i18n.init_app(app)

    from .api import bp, public

    app.register_blueprint(bp)
    app.register_blueprint(public)

    from . import portal

    portal.init_app(app)

    from .cli import register

    register(app)
    return app
