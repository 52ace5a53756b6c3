from . import bp
from .access import roles


@bp.get("/import")
@roles("body-admin", "certifier")
def import_start():
    return ""
