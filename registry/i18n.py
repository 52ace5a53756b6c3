"""Languages of the pages people read: zh and en, from gettext catalogs (Flask-Babel).

Two catalogs, merged at run time: ``translations/consumer`` (the public pages: home, product,
verification) and ``translations/portal`` (the portal). Each is extracted from its own sources by
``scripts/i18n.sh`` so the two never overwrite each other. The compiled ``.mo`` files are kept in
the repository, so a fresh clone serves Chinese without a build step; a test fails when a catalog
is stale (a message missing from it, or a ``.mo`` that does not match its ``.po``).

The language is, in order: ``?lang=``, the signed-in person's choice (``session["lang"]``), the
``Accept-Language`` header, English. Times are shown in China Standard Time on Chinese pages and
in UTC on English ones; JSON stays in UTC.
"""

from __future__ import annotations

from flask import g, has_request_context, request, session
from flask_babel import Babel

LANGUAGES = ("zh", "en")
CATALOGS = ("consumer", "portal")
TIMEZONES = {"zh": "Asia/Shanghai", "en": "UTC"}

babel = Babel()


def select_locale() -> str:
    if not has_request_context():
        return "en"
    forced = g.get("lang")
    if forced in LANGUAGES:
        return forced
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        return wanted
    chosen = session.get("lang") if request.cookies else None
    if chosen in LANGUAGES:
        return chosen
    for value, _q in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def select_timezone() -> str:
    return TIMEZONES[select_locale()]


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          ";".join(f"translations/{name}" for name in CATALOGS))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
