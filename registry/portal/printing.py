from . import bp
from .access import roles


@bp.get("/labels")
@roles("operator", "body-admin", "certifier")
def print_labels():
    return ""
