"""The print page: labels of one or many certificates, as files or an A4 sheet, with the
renderer's warnings (small modules or text, an offline code too dense) shown on the page."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import labels
from ..api.labels import label_data
from ..db import get_session
from ..models import Certificate
from . import bp
from .access import roles

MAX_LABELS = 200
FORMATS = ("svg", "png", "pdf")


def _selected() -> tuple[list[Certificate], list[str]]:
    db = get_session()
    ids = [i for i in request.args.getlist("id") if i][:MAX_LABELS]
    numbers = [n.strip().upper() for n in request.args.get("numbers", "").replace(",", "\n").splitlines() if n.strip()]
    q = select(Certificate)
    if current_user.role != "operator":
        q = q.where(Certificate.body_id == current_user.body_id)
    found = list(db.scalars(q.where(Certificate.id.in_(ids))).all()) if ids else []
    missing = []
    if numbers:
        by_number = {c.number: c for c in db.scalars(q.where(Certificate.number.in_(numbers))).all()}
        missing = [n for n in numbers if n not in by_number]
        found += [c for n, c in by_number.items() if c not in found]
    return sorted(found, key=lambda c: c.number)[:MAX_LABELS], missing


def _options() -> tuple[dict, dict]:
    args = request.args
    errors: dict = {}
    opts = {"lang": args.get("lang", "zh-en"), "mode": args.get("mode", "link"), "format": args.get("format", "pdf"),
            "sheet": args.get("sheet") == "1", "width": args.get("width", "").strip()}
    if opts["lang"] not in labels.LANGS:
        opts["lang"] = "zh-en"
    if opts["mode"] not in labels.MODES:
        opts["mode"] = "link"
    if opts["format"] not in FORMATS:
        opts["format"] = "pdf"
    opts["width_mm"] = None
    if opts["width"]:
        try:
            opts["width_mm"] = float(opts["width"])
            if not 15 <= opts["width_mm"] <= 190:
                raise ValueError
        except ValueError:
            errors["f-width"] = [_("Enter a width from 15 to 190 millimetres, or leave it empty for the standard size.")]
            opts["width_mm"] = None
    return opts, errors


def _check(certs: list[Certificate], opts: dict) -> tuple[list[tuple[Certificate, list[str]]], dict]:
    checked, errors = [], {}
    for cert in certs:
        try:
            rendered = labels.render_label(label_data(cert), fmt="svg", lang=opts["lang"], mode=opts["mode"],
                                           width_mm=opts["width_mm"])
            checked.append((cert, rendered.warnings))
        except labels.LabelError as err:
            checked.append((cert, []))
            least = (getattr(err, "extra", None) or {}).get("minWidthMm")
            if err.type == "label-too-small" and least:
                message = (_("At this width the offline code of %(number)s is too dense to scan from a photo: "
                             "choose a width of at least %(mm)s millimetres, or a link code.", number=cert.number,
                             mm=least) if opts["mode"] == "offline" else
                           _("At this width some text of the label of %(number)s would be under 1.2 millimetres: "
                             "choose a width of at least %(mm)s millimetres.", number=cert.number, mm=least))
                errors.setdefault("f-width", [message])  # one message a field: its id is referenced once
            elif opts["mode"] == "offline":
                errors.setdefault("f-mode", []).append(
                    _("The offline code of %(number)s is too dense for a label: choose a link code.", number=cert.number))
            else:
                errors.setdefault("f-width", [_("The label of %(number)s cannot be made with these options.",
                                                number=cert.number)])
    return checked, errors


@bp.get("/labels")
@roles("operator", "body-admin", "certifier")
def print_labels():
    certs, missing = _selected()
    opts, errors = _options()
    if missing:
        errors["f-numbers"] = [_("No certificate of yours has the number %(numbers)s.", numbers=", ".join(missing[:5]))]
    checked, more = _check(certs, opts) if not errors else ([(c, []) for c in certs], {})
    errors.update(more)
    return render_template("portal/print.html", checked=checked, opts=opts, errors=errors,
                           numbers=request.args.get("numbers", "")), 400 if errors else 200


@bp.get("/labels/download")
@roles("operator", "body-admin", "certifier")
def download_labels():
    certs, _missing = _selected()
    opts, errors = _options()
    if not certs or errors:
        return print_labels()
    items = [label_data(c) for c in certs]
    try:
        if opts["sheet"]:
            content = labels.render_sheet(items, lang=opts["lang"], mode=opts["mode"], width_mm=opts["width_mm"])
            return _file(content, "application/pdf", f"labels-{len(items)}.pdf")
        if len(items) == 1:
            r = labels.render_label(items[0], fmt=opts["format"], lang=opts["lang"], mode=opts["mode"],
                                    width_mm=opts["width_mm"])
            return _file(r.content, r.media_type, f"{certs[0].number}.{opts['format']}")
        content = labels.render_archive(items, formats=(opts["format"],), lang=opts["lang"], mode=opts["mode"],
                                        width_mm=opts["width_mm"])
        return _file(content, "application/zip", f"labels-{len(items)}.zip")
    except labels.LabelError:
        return print_labels()


def _file(content: bytes, media_type: str, name: str) -> Response:
    return Response(content, mimetype=media_type, headers={"Content-Disposition": f"attachment; filename={name}",
                                                           "Cache-Control": "no-store"})
