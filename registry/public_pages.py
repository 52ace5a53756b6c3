"""Pages for the public: the home page and search, a product's certificates, how grading works,
and what the verification page (``/v/<id>``) shows.

Everything a shopper reads is explained in words, in zh or en (gettext catalog
``translations/consumer``): validity ("genuine and in force") is one statement, merit (the grade on
its scale, the footprint against its category's benchmark) another, each with its own colours and
wording. Dates are in the reader's language; on Chinese pages in China Standard Time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from flask_babel import format_date, format_datetime, gettext as _, lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from verifier import grading

from .db import get_session
from .domain.status import effective_status
from .api import doc
from .http import limiter
from .models import Body, Category, Certificate, CertificateBasis, number_key

bp = Blueprint("pages", __name__)

#: The public pages run no script of their own (the verification page adds its one file) and load
#: nothing from other hosts.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
#: Pages that run our one script (the verification page and its offline stand-in).
SCRIPT_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
              "worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LANGS = ("zh", "en")
UTC = timezone.utc

KIND_NAMES = {"carbon-footprint": _l("Product carbon footprint"), "low-carbon": _l("Low-carbon product"),
              "reduced-carbon": _l("Reduced-carbon product"), "carbon-neutral": _l("Carbon-neutral product")}
STATE_NAMES = {"valid": _l("Genuine and in force"), "suspended": _l("Suspended"), "revoked": _l("Revoked"),
               "expired": _l("Expired"), "failed": _l("Not verified"), "notfound": _l("Not found")}
STATUS_NAMES = {"active": _l("In force"), "suspended": _l("Suspended"), "revoked": _l("Revoked"),
                "expired": _l("Expired")}
STAGE_NAMES = {"rawMaterialAcquisition": _l("Raw material acquisition"),
               "rawMaterialTransport": _l("Raw material transport"), "manufacturing": _l("Manufacturing"),
               "distribution": _l("Distribution and sales transport"), "use": _l("Use"),
               "endOfLife": _l("End of life and recycling")}
STAGES = tuple(STAGE_NAMES)
BOUNDARY_NAMES = {"cradle-to-gate": _l("cradle to gate"), "cradle-to-grave": _l("cradle to grave")}
BOUNDARY_EXPLAINED = {
    "cradle-to-gate": _l("Counted from the extraction of raw materials until the product leaves the factory "
                         "gate; transport to the shop, use and disposal are not included."),
    "cradle-to-grave": _l("Counted over the whole life of the product: raw materials, manufacturing, "
                          "distribution, use, and disposal or recycling."),
}
UNIT_NAMES = {"kilogram": _l("kilogram"), "kilowatt hour": _l("kilowatt hour"), "tonne": _l("tonne"),
              "piece": _l("piece"), "item": _l("item"), "square metre": _l("square metre"),
              "cubic metre": _l("cubic metre"), "metre": _l("metre"), "litre": _l("litre"),
              "megajoule": _l("megajoule"), "unit": _l("unit")}
OFFSET_KINDS = {"removal": _l("Removal"), "avoidance": _l("Avoidance")}
#: What each of the verifier's checks establishes, for people (the details stay in the JSON).
CHECK_NAMES = {"structure": _l("A well-formed signed certificate"),
               "issuer": _l("Issued by a certification body registered here"),
               "key": _l("Signed with the body's key in force at the time"),
               "signature": _l("The signature matches the content"),
               "accreditation": _l("The body was accredited for this kind and product category"),
               "validity": _l("Within its period of validity"),
               "grade": _l("The grade recomputes from the certified figures"),
               "status": _l("Neither suspended nor revoked"),
               "log": _l("Recorded in the public transparency log")}
#: Grade colours of the printed label (label_templates/designs.json), so page and package agree.
GRADE_COLOURS = {"A": ("#00843d", "#ffffff"), "B": ("#54b447", "#10240c"), "C": ("#c5d82e", "#1d2a05"),
                 "D": ("#f6b426", "#2a1d00"), "E": ("#e8552d", "#1f0800")}


# --------------------------------------------------------------------------------------------
# Small helpers shared by the templates


def page_lang() -> str:
    """The page's language; also fixes it for gettext in this request."""
    lang = g.get("lang")
    if lang in LANGS:
        return lang
    wanted = request.args.get("lang")
    if wanted not in LANGS:
        wanted = "en"
        for value, _q in request.accept_languages:
            tag = value.lower()
            if tag.startswith(("zh", "en")):
                wanted = tag[:2]
                break
    g.lang = wanted
    return wanted


def switch_url(lang: str) -> str:
    """This page in ``lang``, keeping its other query parameters."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", lang)]
    return f"{request.path}?{urlencode(args)}"


def page_response(html: str, status: int = 200, csp: str = PAGE_CSP) -> Response:
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["Vary"] = "Accept, Accept-Language"
    return resp


def _dec(value) -> Decimal | None:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def num(value) -> str:
    """A decimal as people write it: no exponent, no trailing zeros beyond what was given."""
    d = _dec(value)
    if d is None:
        return "" if value is None else str(value)
    text = format(d, "f")
    return text


def unit_name(unit: str | None) -> str:
    return str(UNIT_NAMES.get(unit or "", unit or ""))


def when(value, *, time: bool = True) -> str:
    """A moment in the reader's language: China Standard Time on Chinese pages, UTC otherwise."""
    moment = _moment(value)
    if moment is None:
        return ""
    zh = g.get("lang") == "zh"
    if not time:
        return format_date(moment, "yyyy年M月d日" if zh else "d MMMM yyyy")
    text = format_datetime(moment, "yyyy年M月d日 HH:mm" if zh else "d MMMM yyyy, HH:mm")
    if zh:
        zone = _("China Standard Time")
        return f"{text}（{zone}）"
    return f"{text} (UTC)"


def day(value) -> str:
    """A calendar date as declared (reference periods are accounting periods, shown as given)."""
    moment = _moment(value)
    if moment is None:
        return ""
    from babel.dates import format_date as _babel_date

    return _babel_date(moment.date(), "long", locale="zh_CN" if g.get("lang") == "zh" else "en")


def _moment(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@bp.app_context_processor
def _helpers() -> dict:
    return {"num": num, "when": when, "day": day, "unit_name": unit_name, "switch_url": switch_url,
            "KIND_NAMES": KIND_NAMES, "STATUS_NAMES": STATUS_NAMES, "GRADE_COLOURS": GRADE_COLOURS,
            "OFFSET_KINDS": OFFSET_KINDS, "CHECK_NAMES": CHECK_NAMES}


# --------------------------------------------------------------------------------------------
# Merit: the grade on its scale, the footprint against the benchmark


def grade_scale(kind: str, value: str | None, scheme: dict) -> dict | None:
    """The scale the printed label shows, with this certificate's place on it."""
    if kind in ("carbon-footprint", "low-carbon"):
        if value is None:
            return None
        grades = [g_["grade"] for g_ in scheme["footprint"]["grades"]]
        allowed = set(scheme["lowCarbon"]["allowedGrades"]) if kind == "low-carbon" else set(grades)
        steps = [{"value": v, "label": v, "current": v == value, "colour": GRADE_COLOURS.get(v, ("#2e7d32", "#fff")),
                  "outside": v not in allowed} for v in grades]
        return {"kind": "letters", "steps": steps, "best": grades[0], "worst": grades[-1],
                "caption": _("Grade %(value)s on a scale from %(best)s (lowest footprint for its category) "
                             "to %(worst)s (highest)", value=value, best=grades[0], worst=grades[-1])}
    if kind == "reduced-carbon":
        tiers = scheme["reducedCarbon"]["tiers"]
        steps = [{"value": t["tier"], "label": _("Tier %(n)s", n=t["tier"]), "current": t["tier"] == value,
                  "detail": _("at least %(pct)s %% less", pct=_pct(t["minReduction"]))} for t in tiers]
        return {"kind": "steps", "steps": steps,
                "caption": _("Tier %(value)s of %(count)s: the higher the tier, the larger the reduction",
                             value=value, count=len(tiers))}
    if kind == "carbon-neutral":
        levels = scheme["carbonNeutral"]["levels"]
        steps = [{"value": lv["level"], "label": _("Level %(n)s", n=lv["level"]), "current": lv["level"] == value,
                  "detail": _level_requirement(lv["requires"])} for lv in levels]
        return {"kind": "steps", "steps": steps,
                "caption": _("Level %(value)s of %(count)s: higher levels need renewable electricity and "
                             "offsets that remove carbon", value=value, count=len(levels))}
    return None


def _level_requirement(requires: dict) -> str:
    parts = []
    if "minOffsetCoverage" in requires:
        parts.append(_("offsets cover %(pct)s %% of emissions", pct=_pct(requires["minOffsetCoverage"])))
    if "minRenewableElectricityShare" in requires:
        parts.append(_("%(pct)s %% renewable electricity", pct=_pct(requires["minRenewableElectricityShare"])))
    if requires.get("allOffsetsRemoval"):
        parts.append(_("all offsets are removals"))
    return ("，" if g.get("lang") == "zh" else "; ").join(parts)


def _pct(fraction) -> str:
    d = _dec(fraction)
    if d is None:
        return str(fraction)
    return num((d * 100).normalize()) if d * 100 == (d * 100).to_integral() else num((d * 100).quantize(Decimal("0.01")))


def benchmark_comparison(footprint: dict, benchmark: dict | None, category_name: str) -> dict | None:
    """How the footprint per declared unit compares with the category's benchmark, in words."""
    if not isinstance(benchmark, dict):
        return None
    pcf, amount, value = (_dec(footprint.get("pcfExcludingBiogenicUptake")),
                          _dec(footprint.get("declaredUnitAmount", "1")), _dec(benchmark.get("value")))
    if pcf is None or not amount or not value:
        return None
    per_unit = pcf / amount
    diff = ((per_unit / value - 1) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN)
    unit = unit_name(footprint.get("declaredUnitOfMeasurement"))
    if diff < 0:
        text = _("%(pct)s %% below the benchmark for %(category)s", pct=num(-diff), category=category_name)
        side = "below"
    elif diff > 0:
        text = _("%(pct)s %% above the benchmark for %(category)s", pct=num(diff), category=category_name)
        side = "above"
    else:
        text = _("At the benchmark for %(category)s", category=category_name)
        side = "at"
    return {"text": text, "side": side,
            "per_unit": _("%(value)s kg CO₂e per %(unit)s", value=num(_trim(per_unit)), unit=unit),
            "benchmark": _("%(value)s kg CO₂e per %(unit)s", value=num(value), unit=unit),
            "standard": benchmark.get("standard"), "source": benchmark.get("source")}


def _per_pack(footprint: dict, pack_size, unit: str) -> str | None:
    """The footprint of one retail pack, when the certificate states the pack size."""
    pcf, amount, size = (_dec(footprint.get("pcfExcludingBiogenicUptake")),
                         _dec(footprint.get("declaredUnitAmount", "1")), _dec(pack_size))
    if pcf is None or not amount or not size:
        return None
    value = (pcf / amount * size).quantize(Decimal("0.001")).normalize()
    return _("%(value)s kg CO₂e per pack of %(size)s %(unit)s", value=num(value), size=num(size), unit=unit)


def _trim(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.0001")).normalize() if d.as_tuple().exponent < -4 else d


# --------------------------------------------------------------------------------------------
# Relations: corrections and bases


@dataclass
class Related:
    id: str
    number: str
    type: str
    status: str

    @property
    def status_name(self) -> str:
        return str(STATUS_NAMES.get(self.status, self.status))


def _related(rows, now) -> list[Related]:
    return [Related(c.id, c.number, c.type, effective_status(c.status, c.valid_until, now)) for c in rows]


def relations(session: Session, cert_id: str, supersedes_id: str | None, now: datetime) -> dict:
    """The certificate's correction (replaced by / corrects) and basis links, both ways."""
    replaced_by = _related(session.scalars(select(Certificate).where(Certificate.supersedes_id == cert_id)
                                           .order_by(Certificate.log_index)).all(), now)
    corrects = _related([c for c in [session.get(Certificate, supersedes_id)] if c], now) if supersedes_id else []
    based_on = _related(session.scalars(
        select(Certificate).join(CertificateBasis, CertificateBasis.based_on_id == Certificate.id)
        .where(CertificateBasis.certificate_id == cert_id).order_by(Certificate.log_index)).all(), now)
    dependants = _related(session.scalars(
        select(Certificate).join(CertificateBasis, CertificateBasis.certificate_id == Certificate.id)
        .where(CertificateBasis.based_on_id == cert_id).order_by(Certificate.log_index)).all(), now)
    return {"replaced_by": replaced_by, "corrects": corrects, "based_on": based_on, "dependants": dependants}


_CASCADE = re.compile(r"^basis certificate (?P<number>\S+) revoked: (?P<reason>.*)$", re.S)


def reason_text(reason: str | None) -> tuple[str | None, str | None]:
    """``(explanation in the page's language, the body's own words or None)``.

    Reasons the registry itself writes are translated; a body's free text is shown as its words.
    """
    if not reason:
        return None, None
    if reason == "superseded":
        return _("Replaced by a corrected certificate."), None
    match = _CASCADE.match(reason)
    if match:
        inner = match["reason"]
        return (_("Suspended by the registry because the certificate it rests on, %(number)s, was revoked.",
                  number=match["number"]),
                None if inner == "superseded" else inner)
    return None, reason


# --------------------------------------------------------------------------------------------
# The verification page


def verdict(result) -> str:
    if result.verified:
        return "valid"
    codes = set(result.codes)
    if codes - {"REVOKED", "SUSPENDED", "EXPIRED"}:
        return "failed"
    for state, code in (("revoked", "REVOKED"), ("suspended", "SUSPENDED"), ("expired", "EXPIRED")):
        if code in codes:
            return state
    return "failed"


def _chart(stages: dict) -> dict | None:
    rows = [(name, _dec(stages.get(name))) for name in STAGES if stages.get(name) is not None]
    rows = [(n, v) for n, v in rows if v is not None]
    if not rows:
        return None
    top = max(v for _, v in rows)
    width, bar_w, row_h = 340, 250, 38
    bars = []
    for i, (name, value) in enumerate(rows):
        w = 0 if top <= 0 or value <= 0 else max(2, int(bar_w * value / top))
        bars.append({"y": i * row_h, "label": str(STAGE_NAMES[name]), "w": w, "value": num(value), "tx": w + 6})
    return {"width": width, "height": len(rows) * row_h, "bars": bars, "bh": 14}


def verify_page_context(cert: Certificate | None, result, cert_id: str) -> dict:
    """What ``verify.html`` shows for a certificate (None: nothing registered under ``cert_id``)."""
    lang = page_lang()
    ctx = {"lang": lang, "cert_id": cert_id, "other": "en" if lang == "zh" else "zh",
           "STATE_NAMES": STATE_NAMES}
    if cert is None:
        ctx.update(state="notfound", title=str(STATE_NAMES["notfound"]))
        return ctx
    now = datetime.now(UTC)
    state = verdict(result)
    cred = result.credential or {}
    subject = cred.get("credentialSubject") or {}
    product = subject.get("product") or {}
    fp = subject.get("footprint") or {}
    kind = subject.get("certificateType") or cert.type
    grade_obj = subject.get("grade") or {}
    grade = grade_obj.get("value")
    try:
        scheme = grading.load_scheme(grade_obj.get("scheme") or grading.DEFAULT_SCHEME_ID,
                                     grade_obj.get("schemeVersion"))
    except grading.UnknownScheme:
        scheme = None
    session = get_session()
    category = session.get(Category, cert.category_code)
    category_name = ((category.name_zh or category.name) if lang == "zh" else category.name) if category \
        else cert.category_code
    body = cert.body
    covering = [a for a in body.accreditations if a.valid_from <= cert.valid_from < a.valid_until]
    accreditation_no = (max(covering, key=lambda a: a.id).number if covering
                        else body.accreditations[-1].number if body.accreditations else None)
    reduction = subject.get("reduction") if isinstance(subject.get("reduction"), dict) else None
    red = None
    if reduction:
        pct = _dec(reduction.get("reduction"))
        base, cur = reduction.get("baseline") or {}, reduction.get("current") or {}
        b, c = _dec(base.get("pcf")), _dec(cur.get("pcf"))
        red = {"baseline": base, "current": cur,
               "pct": f"{(pct * 100).quantize(Decimal('0.01'))} %" if pct is not None else "—",
               "delta": num(b - c) if b is not None and c is not None else None}
    neutrality = subject.get("neutrality") if isinstance(subject.get("neutrality"), dict) else None
    neu = None
    if neutrality:
        share = _dec(neutrality.get("renewableElectricityShare"))
        neu = {"offsets": neutrality.get("offsets") or [], "covered": num(neutrality.get("coveredQuantity")),
               "emissions": num(neutrality.get("emissionsCovered")), "total": num(neutrality.get("offsetsTotal")),
               "share": f"{num((share * 100).normalize())} %" if share is not None else "—"}
    explained, own_words = reason_text(cert.status_reason if state in ("suspended", "revoked") else None)
    amount = num(fp.get("declaredUnitAmount", "1"))
    unit = unit_name(fp.get("declaredUnitOfMeasurement"))
    pcf = fp.get("pcfExcludingBiogenicUptake")
    ctx.update(
        state=state, title=str(STATE_NAMES[state]), kind=kind, kind_name=str(KIND_NAMES.get(kind, kind)),
        grade=grade, scale=grade_scale(kind, grade, scheme) if scheme else None,
        scheme_url=f"/grading?{urlencode({'lang': lang})}",
        product=product, manufacturer=product.get("manufacturer") or {},
        product_name=(product.get("nameZh") or product.get("name")) if lang == "zh" else product.get("name"),
        product_alt=product.get("name") if lang == "zh" and product.get("nameZh") else None,
        pcf=num(pcf) if pcf is not None else None, amount=amount, unit=unit,
        per_declared=_("per %(amount)s %(unit)s", amount=amount, unit=unit),
        per_pack=_per_pack(fp, product.get("packSize"), unit),
        comparison=benchmark_comparison(fp, subject.get("benchmark"), category_name),
        boundary=str(BOUNDARY_NAMES.get(fp.get("boundary"), fp.get("boundary") or "")),
        boundary_explained=str(BOUNDARY_EXPLAINED.get(fp.get("boundary"), "")),
        period=(day(fp.get("referencePeriodStart")), day(fp.get("referencePeriodEnd"))),
        chart=_chart(fp.get("stages") or {}), reduction=red, neutrality=neu,
        body_name=(body.name_zh or body.name) if lang == "zh" else body.name, accreditation_no=accreditation_no,
        valid_from=when(cred.get("validFrom") or cert.valid_from),
        valid_until=when(cred.get("validUntil") or cert.valid_until),
        number=subject.get("certificateNumber") or cert.number,
        demo=bool(body.demo or (category is not None and category.demo)),
        reason=explained, reason_own=own_words, checks=result.checks,
        status_as_of=when(result.to_dict().get("statusAsOf")),
        related=relations(session, cert.id, cert.supersedes_id, now),
        raw_url=f"/api/v1/certificates/{cert.id}", json_url=f"/v/{cert.id}?format=json",
    )
    return ctx


# --------------------------------------------------------------------------------------------
# Home, search, grading


def find_by_number(session: Session, text: str) -> Certificate | None:
    """The certificate whose number is ``text`` forgiving case, spaces and missing hyphens."""
    key = number_key(text)
    if not 0 < len(key) <= 40:
        return None
    return session.scalars(select(Certificate).where(Certificate.number_key == key)).first()


def _gtin_of(text: str) -> str | None:
    digits = re.sub(r"[\s\-]", "", text)
    return digits.zfill(14) if digits.isdigit() and len(digits) in (8, 12, 13, 14) else None


def accredited_bodies(session: Session) -> list[Body]:
    return list(session.scalars(select(Body).where(Body.status == "active").order_by(Body.name)).all())


@bp.get("/")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
def home():
    """What the registry is, a search box, and the accredited certification bodies."""
    lang = page_lang()
    bodies = accredited_bodies(get_session())
    html = render_template("public/home.html", lang=lang, bodies=bodies, q="")
    resp = page_response(html)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


MAX_RESULTS = 50


@bp.get("/search")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(tags=["public"], media={"text/html": {}},
     params=[{"name": "q", "in": "query", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
              "description": "a certificate number (case, spaces and hyphens forgiven), a GTIN or a manufacturer"},
             {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["zh", "en"]}}],
     responses={303: "a certificate number opens its page, a GTIN its product page", 404: "nothing matches"})
def search():
    """A certificate number (forgiving), a GTIN, or a manufacturer's name or identifier."""
    lang = page_lang()
    q = (request.args.get("q") or "").strip()[:200]
    session = get_session()
    error = None
    results: list[Certificate] = []
    if not q:
        error = _("Enter a certificate number, a product barcode (GTIN) or a manufacturer.")
    else:
        cert = find_by_number(session, q)
        if cert is not None:
            return redirect(f"/v/{cert.id}?lang={lang}", 303)
        gtin = _gtin_of(q)
        if gtin and session.scalar(select(Certificate.id).where(Certificate.gtin == gtin).limit(1)):
            return redirect(f"/01/{gtin}?lang={lang}", 303)
        if len(q) >= 2 and not gtin:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            results = list(session.scalars(
                select(Certificate).where(or_(Certificate.manufacturer_name.ilike(pattern, escape="\\"),
                                              Certificate.manufacturer_id == q,
                                              Certificate.product_name.ilike(pattern, escape="\\")))
                .order_by(Certificate.log_index.desc()).limit(MAX_RESULTS)).all())
    now = datetime.now(UTC)
    rows = [_row(c, now) for c in results]
    html = render_template("public/search.html", lang=lang, q=q, rows=rows, error=error,
                           limited=len(results) == MAX_RESULTS)
    status = 200 if rows or error else 404
    return page_response(html, 400 if error else status)


def _row(cert: Certificate, now: datetime) -> dict:
    return {"id": cert.id, "number": cert.number, "type": cert.type, "kind": str(KIND_NAMES.get(cert.type, cert.type)),
            "grade": cert.grade, "product": cert.product_name, "manufacturer": cert.manufacturer_name,
            "gtin": cert.gtin, "status": effective_status(cert.status, cert.valid_until, now),
            "valid_until": when(cert.valid_until, time=False)}


def product_certificates(session: Session, gtin: str, now: datetime) -> list[dict]:
    """Every certificate of the product, those in force first, then newest first."""
    certs = session.scalars(select(Certificate).where(Certificate.gtin == gtin)
                            .order_by(Certificate.log_index.desc()).limit(200)).all()
    rows = [_row(c, now) for c in certs]
    rows.sort(key=lambda r: r["status"] != "active")  # stable: newest first within each group
    return rows


def product_page(gtin: str, rows: list[dict]) -> Response:
    lang = page_lang()
    name = None
    if rows:
        cert = get_session().get(Certificate, rows[0]["id"])
        product = _product_of(cert)
        name = (product.get("nameZh") or product.get("name")) if lang == "zh" else product.get("name")
    html = render_template("public/product.html", lang=lang, gtin=gtin, rows=rows, name=name)
    resp = page_response(html, 200 if rows else 404)
    resp.headers["Cache-Control"] = f"public, max-age={int(current_app.config['VERIFY_CACHE_SECONDS'])}"
    return resp


def _product_of(cert: Certificate) -> dict:
    subject = cert.subject if isinstance(getattr(cert, "subject", None), dict) else {}
    return subject.get("product") or {"name": cert.product_name}


@bp.get("/grading")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
def grading_page():
    """How grades, tiers and levels are worked out, in words, from the published scheme."""
    lang = page_lang()
    scheme = grading.load_scheme()
    footprint = []
    lower = None
    for entry in scheme["footprint"]["grades"]:
        upper = entry["maxRatio"]
        footprint.append({"grade": entry["grade"], "colour": GRADE_COLOURS.get(entry["grade"]),
                          "text": _grade_band(lower, upper)})
        lower = upper
    html = render_template(
        "public/grading.html", lang=lang, scheme=scheme, footprint=footprint,
        low_carbon=", ".join(scheme["lowCarbon"]["allowedGrades"]),
        tiers=[{"tier": t["tier"], "pct": _pct(t["minReduction"])} for t in scheme["reducedCarbon"]["tiers"]],
        levels=[{"level": lv["level"], "text": _level_requirement(lv["requires"])}
                for lv in scheme["carbonNeutral"]["levels"]],
        json_url=f"/api/v1/grading-schemes/{scheme['id']}/versions/{scheme['version']}")
    resp = page_response(html)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/offline")
def offline_page():
    """What the service worker shows for /v/<id> without network; its script checks the label's data."""
    lang = page_lang()
    resp = page_response(render_template("public/offline.html", lang=lang), csp=SCRIPT_CSP)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/sw.js")
def service_worker():
    """The service worker, at the root so that it may answer for /v/… (see static/sw.js)."""
    resp = current_app.send_static_file("sw.js")
    resp.headers["Content-Type"] = "text/javascript; charset=utf-8"
    resp.headers["Cache-Control"] = "no-cache"
    # A worker runs under the policy its own script is served with: it may only fetch from here.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; connect-src 'self'"
    return resp


def _grade_band(lower, upper) -> str:
    lo, hi = (_pct(lower) if lower is not None else None), (_pct(upper) if upper is not None else None)
    if lo is None:
        return _("at most %(hi)s %% of the benchmark", hi=hi)
    if hi is None:
        return _("more than %(lo)s %% of the benchmark", lo=lo)
    return _("more than %(lo)s %% and at most %(hi)s %% of the benchmark", lo=lo, hi=hi)
