"""Verification for everyone: ``POST /api/v1/verify`` and the page a phone opens, ``GET /v/<id>``."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from flask import Response, current_app, render_template, request

from ..db import get_session
from ..errors import InvalidInput, NotFound
from ..http import json_body, limiter
from ..models import Category, Certificate
from .. import tlog, verification
from . import bp, doc, public

MAX_TEXT = 20 * 1024
CHECKED_AT = "@@checked-at@@"
MAX_BATCH = 100
#: The consumer page runs nothing and loads only its own stylesheet.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")

VERIFY_BODY = {"type": "object", "description": "One of: {credential}, {qr}, or {items: [{credential}|{qr}, …]} "
               f"(at most {MAX_BATCH} items, each text at most {MAX_TEXT} characters)",
               "properties": {"credential": {"type": "string"}, "qr": {"type": "string"},
                              "items": {"type": "array", "maxItems": MAX_BATCH}}}
VERIFY_RESULT = {"type": "object", "properties": {
    "verified": {"type": "boolean"}, "checks": {"type": "array"}, "errors": {"type": "array"},
    "credential": {"type": "object", "nullable": True}, "results": {"type": "array"}}}


# --------------------------------------------------------------------------------------------
# POST /api/v1/verify

def _item(raw, where: str, errors: dict[str, list[str]]) -> dict | None:
    prefix = f"{where}." if where else ""
    if not isinstance(raw, dict):
        errors.setdefault(where or "_schema", []).append("Must be an object with credential or qr.")
        return None
    for name in sorted(set(raw) - {"credential", "qr"}):
        errors.setdefault(prefix + name, []).append("Unknown field.")
    given = [n for n in ("credential", "qr") if n in raw]
    if len(given) != 1:
        message = ("Give exactly one of credential and qr, not both." if given
                   else "Give exactly one of credential and qr.")
        for name in ("credential", "qr"):
            errors.setdefault(prefix + name, []).append(message)
        return None
    name = given[0]
    value = raw[name]
    if not isinstance(value, str):
        errors.setdefault(prefix + name, []).append("Not a string.")
        return None
    if len(value) > MAX_TEXT:
        errors.setdefault(prefix + name, []).append(f"Longer than {MAX_TEXT} characters.")
        return None
    if not value.strip():
        errors.setdefault(prefix + name, []).append("Must not be empty.")
        return None
    return {name: value} if not errors else None


def _parse_verify_request(data: dict) -> tuple[list[dict], bool]:
    """``(items, is_batch)``; raises InvalidInput with field errors."""
    errors: dict[str, list[str]] = {}
    if "items" in data:
        for name in sorted(set(data) - {"items"}):
            errors.setdefault(name, []).append("Unknown field (a batch has only items).")
        items = data["items"]
        if not isinstance(items, list):
            errors.setdefault("items", []).append("Not a list.")
        elif not items:
            errors.setdefault("items", []).append("Must hold at least one item.")
        elif len(items) > MAX_BATCH:
            errors.setdefault("items", []).append(f"At most {MAX_BATCH} items.")
        else:
            parsed = [_item(raw, f"items.{i}", errors) for i, raw in enumerate(items)]
            if not errors:
                return parsed, True
        raise InvalidInput("The verification request has invalid fields", errors=errors)
    item = _item(data, "", errors)
    if errors or item is None:
        raise InvalidInput("The verification request has invalid fields", errors=errors)
    return [item], False


@bp.post("/verify")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(body=VERIFY_BODY, response=VERIFY_RESULT, tags=["public"],
     responses={422: "neither or both of credential and qr, not a string, too long, or batch too large"})
def verify_api():
    """Verify a credential or scanned QR text (or a batch of up to 100); a failed check is a 200 result."""
    items, batch = _parse_verify_request(json_body())
    session = get_session()
    res = verification.resolver(session)
    results = [verification.verify(session, credential=i.get("credential"), qr=i.get("qr"), res=res).to_dict()
               for i in items]
    for result in results:
        _add_log(session, result)
    return {"results": results} if batch else results[0]


def _add_log(session, result: dict) -> None:
    """The issuance entry's log claim, when the credential is one this registry issued."""
    cid = str((result.get("credential") or {}).get("id") or "").removeprefix("urn:uuid:")
    if 0 < len(cid) <= 36:
        claim = tlog.certificate_claim(session, cid)
        if claim is not None:
            result["log"] = claim


# --------------------------------------------------------------------------------------------
# GET /v/<id>

def _lang() -> str:
    wanted = request.args.get("lang")
    if wanted in ("zh", "en"):
        return wanted
    for value, _q in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def _wants_json() -> bool:
    fmt = request.args.get("format")
    if fmt:
        return fmt == "json"
    accept = request.headers.get("Accept", "")
    if accept == "application/json":  # what API clients send; parsing it costs more than the check
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _cache_headers(resp: Response, etag: str | None = None) -> Response:
    headers = resp.headers
    headers["Cache-Control"] = f"public, max-age={int(current_app.config['VERIFY_CACHE_SECONDS'])}"
    headers["Vary"] = "Accept, Accept-Language"
    if etag:
        headers["ETag"] = f'"{etag}"'
    return resp


def _summary(cert) -> dict:
    base = current_app.config["PUBLIC_URL"]
    return {"id": cert.id, "number": cert.number, "type": cert.type, "status": cert.status,
            "statusReason": cert.status_reason, "grade": cert.grade,
            "validFrom": cert.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "validUntil": cert.valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verifyUrl": f"{base}/v/{cert.id}", "credentialUrl": f"{base}/api/v1/certificates/{cert.id}"}


@public.get("/v/<cert_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(response=VERIFY_RESULT, tags=["public"],
     params=[{"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "html"]}},
             {"name": "lang", "in": "query", "required": False, "schema": {"enum": ["zh", "en"]}}])
def verify_page(cert_id: str):
    """The page a scanned label opens (HTML), or with ``Accept: application/json`` the verification result."""
    as_json = _wants_json()
    lang = "" if as_json else _lang()  # the JSON answer is the same in every language
    cert, fp = verification.certificate_for_verify(cert_id.lower()) if len(cert_id) <= 36 else (None, None)
    if cert is None:
        if as_json:
            raise NotFound(f"No certificate {cert_id!r}", type="certificate-not-found")
        html = render_template("verify.html", **page_context(None, None, lang, cert_id))
        return _cache_headers(_page(html, 404))
    # The ORM session is opened only if a cache is cold or the HTML page needs the full record.
    res = verification.resolver(get_session, fingerprint=fp)
    now = datetime.now(timezone.utc)
    log_claim = tlog.certificate_claim(get_session, cert.id) if as_json else None
    tag = "|".join([cert.id, cert.status, *_status_versions(res, cert), repr(fp), lang,
                    "json" if as_json else "html", "x" if now >= cert.valid_until else "v"])
    memo_key = hashlib.sha256(tag.encode()).hexdigest()[:32]
    etag = (hashlib.sha256((memo_key + log_claim["checkpoint"]).encode()).hexdigest()[:32]
            if log_claim else memo_key)
    if request.if_none_match.contains(etag):
        resp = _cache_headers(Response(status=304), etag)
        if not as_json:
            resp.headers["Content-Security-Policy"] = PAGE_CSP
        return resp
    if as_json:
        # The ETag is computed from this request's own reads (status, list versions, trust
        # fingerprint, expiry), so an answer stored under it is the answer verification would give;
        # only the time of checking differs, and it is filled in per request.
        memo = verification.cache_for(current_app).answers
        text = memo.get(memo_key)
        if text is None:
            credential = verification.stored_credential(res.session, cert.id)
            body = verification.verify_credential(credential, res, now=now).to_dict()
            body["certificate"] = _summary(cert)
            body["checkedAt"] = CHECKED_AT
            if "statusAsOf" in body:  # the status versions are read by every request
                body.update(statusAsOf=CHECKED_AT, statusAgeSeconds=0)
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            memo.put(memo_key, text)
        text = text.replace(CHECKED_AT, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if log_claim is not None:  # kept out of the memo: the checkpoint moves on more often
            text = text[:-1] + ',"log":' + json.dumps(log_claim, ensure_ascii=False, separators=(",", ":")) + "}"
        return _cache_headers(Response(text, mimetype="application/json"), etag)
    session = res.session
    result = verification.verify_credential(verification.stored_credential(session, cert.id), res, now=now)
    html = render_template("verify.html", **page_context(session.get(Certificate, cert.id), result, lang, cert_id))
    return _cache_headers(_page(html, 200), etag)


def _status_versions(res: verification.RegistryResolver, cert) -> list[str]:
    versions = res.versions()
    return [f"{lid}:{versions.get(lid, ('', 0))[1]}" for lid in (cert.revocation_list_id, cert.suspension_list_id)]


def _page(html: str, status: int) -> Response:
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    return resp


# --------------------------------------------------------------------------------------------
# What the consumer page shows

T = {
    "en": {
        "title": "Carbon label verification", "valid": "Genuine and valid", "suspended": "Suspended",
        "revoked": "Revoked", "expired": "Expired", "failed": "Not verified", "notfound": "Not found",
        "valid_note": "This certificate was issued by an accredited certification body and is in force.",
        "suspended_note": "The certificate is suspended: it does not vouch for this product now.",
        "revoked_note": "The certificate has been revoked: it does not vouch for this product.",
        "expired_note": "The certificate's validity period has ended.",
        "failed_note": "This certificate could not be verified. Do not rely on the label.",
        "notfound_note": "No certificate with this identifier is registered. The label may be counterfeit.",
        "kind": {"carbon-footprint": "Product carbon footprint", "low-carbon": "Low-carbon product",
                 "reduced-carbon": "Reduced-carbon product", "carbon-neutral": "Carbon-neutral product"},
        "grade": "Grade", "tier": "Tier", "level": "Level", "ungraded": "not graded (no benchmark)",
        "product": "Product", "model": "Model", "gtin": "GTIN", "manufacturer": "Manufacturer",
        "footprint": "Carbon footprint", "per": "{v} kg CO2e / {a} {u}", "pre": "", "post": "kg CO2e / {a} {u}", "boundary": "System boundary",
        "period": "Reference period", "stages": "Life-cycle stages (kg CO2e)", "benchmark": "Benchmark",
        "stage": {"rawMaterialAcquisition": "Raw material acquisition", "rawMaterialTransport": "Raw material transport",
                  "manufacturing": "Manufacturing", "distribution": "Distribution", "use": "Use",
                  "endOfLife": "End of life / recycling"},
        "reduction": "Reduction", "baseline": "Baseline", "current": "Current",
        "offsets": "Retired offsets", "registry": "Registry", "serial": "Serial number",
        "quantity": "t CO2e", "vintage": "Vintage", "okind": "Kind", "removal": "Removal", "avoidance": "Avoidance",
        "covered": "Covered quantity", "renewable": "Renewable electricity share",
        "emissions": "Emissions covered", "issuer": "Certification body", "accreditation": "Accreditation No.",
        "validity": "Validity", "number": "Certificate No.", "raw": "Signed credential", "json": "Verification result (JSON)",
        "demo": "Demonstration data — not a real certificate", "checks": "Checks",
        "reason": "Reason", "status_as_of": "Status as of", "to": "to", "switch": "中文",
        "cradle-to-gate": "cradle to gate", "cradle-to-grave": "cradle to grave",
    },
    "zh": {
        "title": "碳标识核验", "valid": "真实有效", "suspended": "已暂停", "revoked": "已撤销", "expired": "已过期",
        "failed": "未通过核验", "notfound": "未找到",
        "valid_note": "本证书由获认可的认证机构颁发，现行有效。",
        "suspended_note": "本证书已暂停，目前不能证明该产品。",
        "revoked_note": "本证书已撤销，不能证明该产品。",
        "expired_note": "本证书已超过有效期。",
        "failed_note": "本证书未通过核验，请勿信赖此标识。",
        "notfound_note": "未找到该编号的证书，此标识可能是伪造的。",
        "kind": {"carbon-footprint": "产品碳足迹", "low-carbon": "低碳产品", "reduced-carbon": "减碳产品",
                 "carbon-neutral": "碳中和产品"},
        "grade": "等级", "tier": "级", "level": "级", "ungraded": "未分级（无基准值）",
        "product": "产品", "model": "型号", "gtin": "商品条码", "manufacturer": "生产者",
        "footprint": "碳足迹", "per": "每 {a} {u} {v} 千克二氧化碳当量", "pre": "每 {a} {u}", "post": "千克二氧化碳当量", "boundary": "系统边界",
        "period": "核算期", "stages": "生命周期各阶段（千克二氧化碳当量）", "benchmark": "基准值",
        "stage": {"rawMaterialAcquisition": "原料获取", "rawMaterialTransport": "原料运输",
                  "manufacturing": "生产制造", "distribution": "销售运输", "use": "产品使用", "endOfLife": "回收利用"},
        "reduction": "减排量", "baseline": "基准期", "current": "当期",
        "offsets": "已注销的抵消量", "registry": "登记系统", "serial": "序列号", "quantity": "吨二氧化碳当量",
        "vintage": "年份", "okind": "类型", "removal": "碳移除", "avoidance": "减排",
        "covered": "覆盖数量", "renewable": "可再生能源电力比例", "emissions": "覆盖排放量",
        "issuer": "认证机构", "accreditation": "认可编号", "validity": "有效期", "number": "证书编号",
        "raw": "签名凭证", "json": "核验结果（JSON）", "demo": "演示数据——并非真实证书", "checks": "核验项目",
        "reason": "原因", "status_as_of": "状态更新于", "to": "至", "switch": "English",
        "cradle-to-gate": "从摇篮到大门", "cradle-to-grave": "从摇篮到坟墓",
    },
}
UNITS_ZH = {"kilogram": "千克", "kilowatt hour": "千瓦时", "tonne": "吨", "ton": "吨", "piece": "件", "item": "件",
            "square metre": "平方米", "square meter": "平方米", "cubic metre": "立方米", "cubic meter": "立方米",
            "metre": "米", "meter": "米", "litre": "升", "liter": "升", "megajoule": "兆焦", "unit": "个"}
LEVEL_ZH = {"1": "一级", "2": "二级", "3": "三级"}
STAGES = ("rawMaterialAcquisition", "rawMaterialTransport", "manufacturing", "distribution", "use", "endOfLife")


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


def _dec(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _num(value) -> str:
    d = _dec(value)
    if d is None:
        return str(value)
    text = format(d.normalize(), "f") if d == d.to_integral() or abs(d.as_tuple().exponent) > 6 else format(d, "f")
    return text


def _date(value) -> str:
    return str(value or "")[:10]


def _unit(unit: str, lang: str) -> str:
    return UNITS_ZH.get(unit, unit) if lang == "zh" else unit


def _grade(kind: str, value, t: dict, lang: str) -> str:
    if value is None:
        return t["ungraded"]
    if kind in ("reduced-carbon", "carbon-neutral"):
        if lang == "zh":
            return LEVEL_ZH.get(str(value), f"{value} 级")
        return f"{t['tier' if kind == 'reduced-carbon' else 'level']} {value}"
    return f"{t['grade']} {value}"


def _chart(stages: dict, t: dict) -> dict | None:
    rows = [(name, _dec(stages.get(name))) for name in STAGES if stages.get(name) is not None]
    rows = [(n, v) for n, v in rows if v is not None]
    if not rows:
        return None
    top = max((v for _, v in rows), default=Decimal(0))
    # Each stage: its name on one line, the bar and the figure under it (long names never collide).
    width, bar_w, row_h = 340, 260, 38
    bars = []
    for i, (name, value) in enumerate(rows):
        w = 0 if top <= 0 or value <= 0 else max(2, int(bar_w * value / top))
        bars.append({"y": i * row_h, "label": t["stage"][name], "w": w, "x": 0, "value": _num(value),
                     "tx": w + 6})
    return {"width": width, "height": len(rows) * row_h, "bars": bars, "bh": 14}


def page_context(cert: Certificate | None, result, lang: str, cert_id: str) -> dict:
    t = T[lang]
    ctx = {"lang": lang, "t": t, "cert_id": cert_id, "other": "en" if lang == "zh" else "zh"}
    if cert is None:
        ctx.update(state="notfound")
        return ctx
    state = verdict(result)
    cred = result.credential or {}
    subject = cred.get("credentialSubject") or {}
    product = subject.get("product") or {}
    fp = subject.get("footprint") or {}
    kind = subject.get("certificateType") or cert.type
    grade = (subject.get("grade") or {}).get("value")
    unit = fp.get("declaredUnitOfMeasurement", "")
    amount = _num(fp.get("declaredUnitAmount", "1"))
    pcf = fp.get("pcfExcludingBiogenicUptake")
    session = get_session()
    category = session.get(Category, cert.category_code)
    body = cert.body
    accreditation_no = None
    covering = [a for a in body.accreditations if a.valid_from <= cert.valid_from < a.valid_until]
    if covering:
        accreditation_no = max(covering, key=lambda a: a.id).number
    elif body.accreditations:
        accreditation_no = body.accreditations[-1].number
    reduction = subject.get("reduction")
    red = None
    if isinstance(reduction, dict):
        pct = _dec(reduction.get("reduction"))
        red = {"baseline": reduction.get("baseline") or {}, "current": reduction.get("current") or {},
               "pct": f"{(pct * 100).quantize(Decimal('0.01'))} %" if pct is not None else "—",
               "delta": None}
        b, c = _dec(red["baseline"].get("pcf")), _dec(red["current"].get("pcf"))
        if b is not None and c is not None:
            red["delta"] = _num(b - c)
    neutrality = subject.get("neutrality")
    neu = None
    if isinstance(neutrality, dict):
        share = _dec(neutrality.get("renewableElectricityShare"))
        neu = {"offsets": neutrality.get("offsets") or [], "covered": _num(neutrality.get("coveredQuantity", "")),
               "emissions": _num(neutrality.get("emissionsCovered", "")),
               "total": _num(neutrality.get("offsetsTotal", "")),
               "share": f"{(share * 100).normalize():f} %" if share is not None else "—"}
    benchmark = subject.get("benchmark")
    ctx.update(
        state=state, kind=kind, kind_name=t["kind"].get(kind, kind), grade=_grade(kind, grade, t, lang),
        grade_value=grade, product=product, manufacturer=(product.get("manufacturer") or {}),
        product_name=(product.get("nameZh") or product.get("name")) if lang == "zh" else product.get("name"),
        product_alt=product.get("name") if lang == "zh" and product.get("nameZh") else product.get("nameZh"),
        pcf=_num(pcf) if pcf is not None else None,
        footprint_text=t["per"].format(v=_num(pcf), a=amount, u=_unit(unit, lang)) if pcf is not None else None,
        footprint_pre=t["pre"].format(a=amount, u=_unit(unit, lang)),
        footprint_post=t["post"].format(a=amount, u=_unit(unit, lang)),
        boundary=t.get(fp.get("boundary", ""), fp.get("boundary")),
        period=(_date(fp.get("referencePeriodStart")), _date(fp.get("referencePeriodEnd"))),
        chart=_chart(fp.get("stages") or {}, t), reduction=red, neutrality=neu,
        benchmark=(_num(benchmark.get("value")) if isinstance(benchmark, dict) else None),
        unit=_unit(unit, lang), amount=amount,
        body_name=(body.name_zh or body.name) if lang == "zh" else body.name, accreditation_no=accreditation_no,
        valid_from=_date(cred.get("validFrom")) or cert.valid_from.date().isoformat(),
        valid_until=_date(cred.get("validUntil")) or cert.valid_until.date().isoformat(),
        number=subject.get("certificateNumber") or cert.number,
        demo=bool(body.demo or (category is not None and category.demo)),
        reason=cert.status_reason if state in ("suspended", "revoked") else None,
        checks=result.checks, status_as_of=result.to_dict().get("statusAsOf"),
        raw_url=f"/api/v1/certificates/{cert.id}", json_url=f"/v/{cert.id}?format=json",
    )
    return ctx
