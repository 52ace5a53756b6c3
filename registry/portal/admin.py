from . import bp
from .access import roles


@bp.get("/body")
@roles("body-admin")
def body_admin():
    return ""


@bp.get("/bodies")
@roles("operator")
def bodies():
    return ""


@bp.get("/categories")
@roles("operator")
def categories():
    return ""


@bp.get("/audit")
@roles("operator")
def audit_trail():
    return ""


@bp.get("/staff")
@roles("operator")
def staff():
    return ""
