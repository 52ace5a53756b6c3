"""Demonstration data: an operator, categories, accredited bodies and certificates of every kind.

Benchmarks and bodies created here are flagged ``demo``: they are illustrations, not official values.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from . import auth
from .models import Body
from .services import accreditation, audit

DEMO_SOURCE = "Demonstration value — not an official benchmark"

# code: (name, nameZh, declared unit, demo benchmark kg CO2e per declared unit or None)
CATEGORIES = {
    "cement": ("General Portland cement", "通用硅酸盐水泥", "kilogram", "0.85"),
    "flat-glass": ("Flat glass", "平板玻璃", "kilogram", "1.10"),
    "aluminium-profile": ("Aluminium alloy building profile", "铝合金建筑型材", "kilogram", "12.0"),
    "motor-3phase": ("Small and medium three-phase asynchronous motor", "中小型三相异步电动机", "piece", "950"),
    "ceramic-tile": ("Building ceramic tile", "建筑陶瓷砖（板）", "square meter", "12.5"),
    "tyre": ("Tyre", "轮胎", "piece", "38"),
    "textile-fabric": ("Textile fabric", "纺织面料", "kilogram", "14.0"),
    "lithium-battery": ("Lithium-ion battery", "锂离子电池", "kilowatt hour", "75"),
    "pv-module": ("Photovoltaic module", "光伏组件", "kilowatt hour", None),
    "steel": ("Steel", "钢铁", "kilogram", "2.10"),
    "electrolytic-aluminium": ("Electrolytic aluminium", "电解铝", "kilogram", "14.5"),
    "urea": ("Urea", "尿素", "kilogram", "1.30"),
    "ammonium-phosphate": ("Ammonium phosphate", "磷酸铵", "kilogram", None),
    "wood-product": ("Wood product", "木制品", "cubic meter", None),
}

ALL_KINDS = ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"]

BODIES = [
    {"code": "HXCC", "name": "Huaxia Carbon Certification Centre (demo)", "nameZh": "华夏碳认证中心（演示）",
     "number": "DEMO-CNCA-R-2024-001", "categories": ["cement", "steel", "textile-fabric", "flat-glass", "tyre"]},
    {"code": "JNGP", "name": "Jiangnan Green Product Certification Co. (demo)", "nameZh": "江南绿色产品认证有限公司（演示）",
     "number": "DEMO-CNCA-R-2024-002", "categories": ["lithium-battery", "pv-module", "aluminium-profile",
                                                    "electrolytic-aluminium"]},
    {"code": "BFTC", "name": "Beifang Testing and Certification (demo)", "nameZh": "北方检测认证（演示）",
     "number": "DEMO-CNCA-R-2024-003", "categories": ["cement", "urea", "ammonium-phosphate"]},
]


def seed(session, app) -> dict:
    """Create the demo data once; a second run reports what is there."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    creds_file = instance / "demo-credentials.json"
    existing = session.scalars(select(Body).where(Body.demo.is_(True))).first()
    if existing is not None and creds_file.exists():
        return json.loads(creds_file.read_text())
    public_url = app.config["PUBLIC_URL"]
    signer = app.extensions["registry.signer"]
    signer.registry_key(session, public_url)
    operator, op_secret = auth.create_client(session, name="Demo operator", role="operator")
    audit.record(session, actor="cli", action="client.created", target_type="client", target_id=operator.client_id,
                 details={"name": "Demo operator", "role": "operator", "demo": True})
    for code, (name, name_zh, unit, benchmark) in CATEGORIES.items():
        data = {"name": name, "nameZh": name_zh, "declaredUnitOfMeasurement": unit,
                "benchmark": {"value": benchmark, "standard": "Demo benchmark for illustration",
                              "source": DEMO_SOURCE} if benchmark else None}
        accreditation.put_category(session, code, data, actor="cli", demo=True)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    bodies = {}
    for spec in BODIES:
        data = {"name": spec["name"], "nameZh": spec["nameZh"], "country": "CN", "code": spec["code"],
                "accreditation": {"number": spec["number"], "validFrom": now - timedelta(days=3 * 365),
                                  "validUntil": now + timedelta(days=2 * 365),
                                  "scope": {"certificateTypes": ALL_KINDS, "productCategories": spec["categories"]}}}
        body, client, secret = accreditation.create_body(session, signer, data, public_url=public_url, actor="cli",
                                                         demo=True, now=now - timedelta(days=3 * 365))
        bodies[spec["code"]] = {"id": body.id, "did": accreditation.body_did(public_url, body.id),
                                "clientId": client.client_id, "clientSecret": secret}
    from .services import procurement

    # A PACT data recipient. Its callback credentials are the ones the PACT conformance service
    # publishes for its own token endpoint, so the demo can answer that service's requests.
    buyer, buyer_secret = procurement.create_client(session, app.config, name="Demo procurement system",
                                                    callback_client_id="test_client_id",
                                                    callback_client_secret="test_client_secret", actor="cli")
    summary = {"publicUrl": public_url,
               "operator": {"clientId": operator.client_id, "clientSecret": op_secret},
               "procurement": {"clientId": buyer.client_id, "clientSecret": buyer_secret,
                               "pact": f"{public_url}/3/footprints"},
               "bodies": bodies, "people": _people(session, app, bodies["HXCC"]["id"]),
               "certificates": _certificates(session, app, now)}
    bftc = session.get(Body, bodies["BFTC"]["id"])
    accreditation.suspend_body(session, bftc, "Demo: surveillance audit found nonconformities", actor="cli")
    session.flush()
    creds_file.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    creds_file.chmod(0o600)
    return summary


DEMO_PEOPLE = (("operator@demo.example.org", "operator", False), ("admin@hxcc.demo.example.org", "body-admin", True),
               ("certifier@hxcc.demo.example.org", "certifier", True))


def _people(session, app, body_id: str) -> dict:
    """One portal account per role (the body's people at HXCC), with password and TOTP secret."""
    from .portal import accounts

    out = {}
    for email, role, of_body in DEMO_PEOPLE:
        _user, password, secret = accounts.create_user(session, email=email, role=role,
                                                       body_id=body_id if of_body else None,
                                                       master_key=app.config["MASTER_KEY"], actor="cli")
        out[role] = {"email": email, "password": password, "totpSecret": secret,
                     "login": f"{app.config['PUBLIC_URL']}/portal/login"}
    return out


def _fp(pcf: str, unit: str = "kilogram", year: int = 2025, boundary: str = "cradle-to-gate", stages=True) -> dict:
    from decimal import Decimal

    v = Decimal(pcf)
    raw, transport = (v * Decimal("0.18")).quantize(Decimal("0.001")), (v * Decimal("0.04")).quantize(Decimal("0.001"))
    data = {"declaredUnitOfMeasurement": unit, "declaredUnitAmount": "1", "pcfExcludingBiogenicUptake": pcf,
            "pcfIncludingBiogenicUptake": pcf, "referencePeriodStart": f"{year}-01-01T00:00:00Z",
            "referencePeriodEnd": f"{year}-12-31T23:59:59Z", "boundary": boundary,
            "ipccCharacterizationFactors": ["AR6"], "crossSectoralStandards": ["ISO14067", "GB/T24067"]}
    if stages:
        data["stages"] = {"rawMaterialAcquisition": str(raw), "rawMaterialTransport": str(transport),
                          "manufacturing": str(v - raw - transport), "distribution": None, "use": None,
                          "endOfLife": None}
    return data


PRODUCTS = {
    "cement": {"name": "P.O 42.5 ordinary Portland cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": "cement",
               "model": "PO42.5", "manufacturer": {"name": "Wanshan Cement Co., Ltd. (demo)",
                                                  "id": "urn:uscc:91340000DEMO00001A"}},
    "fabric": {"name": "Warp-knitted polyester mesh fabric", "nameZh": "经编涤纶网眼布", "category": "textile-fabric",
               "model": "WK-210", "manufacturer": {"name": "Shaoxing Jingbian Textiles (demo)",
                                                   "id": "urn:uscc:91330600DEMO00002B"}},
    "battery": {"name": "LFP prismatic cell 280 Ah", "nameZh": "磷酸铁锂方形电芯 280Ah", "category": "lithium-battery",
                "model": "LFP280", "manufacturer": {"name": "Ningde Demo Energy Co. (demo)",
                                                     "id": "urn:uscc:91350900DEMO00003C"}},
    "pv": {"name": "Monocrystalline PV module 550 W", "nameZh": "单晶硅光伏组件 550W", "category": "pv-module",
           "model": "M550", "manufacturer": {"name": "Yangzhou Demo Solar (demo)", "id": "urn:uscc:91321000DEMO00004D"}},
    "urea": {"name": "Granular urea", "nameZh": "大颗粒尿素", "category": "urea", "model": "U46",
             "manufacturer": {"name": "Hebei Demo Fertiliser (demo)", "id": "urn:uscc:91130000DEMO00005E"}},
}
GTINS = {"cement": "06901234567892", "fabric": "06909876543212", "battery": "06912345678902",
         "pv": "06923456789012", "urea": "06934567890122"}


def _offsets(tag: str, *specs: tuple[str, str]) -> list[dict]:
    return [{"registry": "CCER", "serialNumber": f"DEMO-CCER-{tag}-{i + 1:04d}", "quantity": q, "vintage": "2024",
             "kind": kind, "retiredAt": "2025-09-30T00:00:00Z",
             "project": "Mangrove planting, Beihai, Guangxi (demo)" if kind == "removal"
             else "Offshore wind farm, Yancheng, Jiangsu (demo)"} for i, (q, kind) in enumerate(specs)]


def _certificates(session, app, now: datetime) -> list[dict]:
    """Every kind, every grade, every state: valid, suspended, revoked, superseded, expired."""
    from .schemas.certificates import CertificateIn
    from .services import issuing, revocation

    signer, public_url = app.extensions["registry.signer"], app.config["PUBLIC_URL"]
    bodies = {b.code: b for b in session.scalars(select(Body).where(Body.demo.is_(True)))}
    out: list[dict] = []
    until = "2028-12-31T23:59:59Z"

    # Issue dates spread over the past ten months, in order, so pages and searches look lived-in.
    clock = iter(now - timedelta(days=300) + timedelta(days=5 * i, hours=3 * i) for i in range(100))

    def issue(code: str, label: str, raw: dict, when: datetime | None = None):
        key = raw.pop("product")
        product = {**PRODUCTS[key], "gtin": GTINS[key]}
        data = CertificateIn().load({"product": product, "validUntil": until, **raw})
        cert = issuing.issue(session, signer, bodies[code], data, public_url=public_url, actor="cli",
                             now=when or next(clock))
        out.append({"label": label, "id": cert.id, "number": cert.number, "type": cert.type, "grade": cert.grade,
                    "verifyUrl": f"{public_url}/v/{cert.id}", "label_svg": f"{public_url}/labels/{cert.id}.svg"})
        return cert

    # Footprint grades A–E on cement (demo benchmark 0.85 kg CO2e/kg) and an ungraded PV module.
    for grade, pcf in (("A", "0.560"), ("B", "0.700"), ("C", "0.800"), ("D", "0.950"), ("E", "1.050")):
        issue("HXCC", f"carbon-footprint grade {grade}", {"type": "carbon-footprint", "product": "cement",
                                                          "footprint": _fp(pcf)})
    issue("JNGP", "carbon-footprint, no benchmark (ungraded)",
          {"type": "carbon-footprint", "product": "pv", "footprint": _fp("380", unit="kilowatt hour", stages=False)})
    for grade, pcf in (("A", "52.0"), ("B", "62.0"), ("C", "71.0")):
        issue("JNGP", f"low-carbon grade {grade}", {"type": "low-carbon", "product": "battery",
                                                   "footprint": _fp(pcf, unit="kilowatt hour")})
    # Reduced-carbon tiers from footprint series of the mesh fabric (benchmark 14.0).
    series = {}
    for year, pcf in ((2021, "12.00"), (2022, "10.68"), (2023, "11.52"), (2024, "9.00")):
        series[year] = issue("HXCC", f"fabric footprint {year}", {"type": "carbon-footprint", "product": "fabric",
                                                                   "footprint": _fp(pcf, year=year)})
    for tier, pair in (("1", (2021, 2023)), ("2", (2021, 2022)), ("3", (2021, 2024))):
        issue("HXCC", f"reduced-carbon tier {tier}", {"type": "reduced-carbon", "product": "fabric",
                                                      "basedOn": [series[y].id for y in pair]})
    # Carbon-neutral levels: 0.56 t to cover for 1 000 kg of grade-A cement.
    base = _fp("0.560")
    issue("HXCC", "carbon-neutral level 1", {"type": "carbon-neutral", "product": "cement", "footprint": base,
                                             "coveredQuantity": "1000", "renewableElectricityShare": "0.45",
                                             "offsets": _offsets("L1", ("0.600", "avoidance"))})
    issue("HXCC", "carbon-neutral level 2", {"type": "carbon-neutral", "product": "cement", "footprint": base,
                                             "coveredQuantity": "1000", "renewableElectricityShare": "1",
                                             "offsets": _offsets("L2", ("0.300", "avoidance"), ("0.300", "removal"))})
    issue("HXCC", "carbon-neutral level 3", {"type": "carbon-neutral", "product": "cement", "footprint": base,
                                             "coveredQuantity": "1000", "renewableElectricityShare": "1",
                                             "offsets": _offsets("L3", ("0.400", "removal"), ("0.200", "removal"))})
    # States.
    suspended = issue("HXCC", "suspended", {"type": "carbon-footprint", "product": "cement", "footprint": _fp("0.780")})
    revocation.change_status(session, suspended, "suspend", "Demo: complaint under investigation", actor="cli")
    revoked = issue("JNGP", "revoked", {"type": "low-carbon", "product": "battery",
                                        "footprint": _fp("60.0", unit="kilowatt hour")})
    revocation.change_status(session, revoked, "revoke", "Demo: activity data found wrong on re-audit", actor="cli")
    old = issue("BFTC", "superseded by a correction", {"type": "carbon-footprint", "product": "urea",
                                                       "footprint": _fp("1.250")})
    issue("BFTC", "correction (names the one it supersedes)", {"type": "carbon-footprint", "product": "urea",
                                                              "footprint": _fp("1.210"), "supersedes": old.id})
    # Enough footprints for PACT pagination: steel, glass and tyres from a few mills and plants.
    more = {"steel": ("Hot-rolled steel coil", "热轧钢卷", "steel", "HRC-Q235", "Hebei Demo Steel (demo)",
                      "urn:uscc:91130200DEMO00006F", "06945678901232", "kilogram", ("1.85", "2.05", "2.30")),
            "glass": ("Float glass 6 mm", "浮法玻璃 6mm", "flat-glass", "FG6", "Qinhuangdao Demo Glass (demo)",
                      "urn:uscc:91130300DEMO00007G", "06956789012342", "kilogram", ("0.95", "1.05", "1.20")),
            "tyre": ("Radial truck tyre 295/80R22.5", "全钢子午线轮胎 295/80R22.5", "tyre", "TR295", "Shandong Demo Tyre (demo)",
                     "urn:uscc:91370000DEMO00008H", "06967890123452", "piece", ("31", "36", "41"))}
    for key, (name, name_zh, category, model, maker, maker_id, gtin, unit, values) in more.items():
        PRODUCTS[key] = {"name": name, "nameZh": name_zh, "category": category, "model": model,
                         "manufacturer": {"name": maker, "id": maker_id}}
        GTINS[key] = gtin
        for year in (2023, 2024, 2025):
            for pcf in values:
                issue("HXCC", f"{key} footprint {year}", {"type": "carbon-footprint", "product": key,
                                                          "footprint": _fp(pcf, unit=unit, year=year)})
    past = now - timedelta(days=800)
    until = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    issue("HXCC", "expired", {"type": "carbon-footprint", "product": "cement", "footprint": _fp("0.820", year=2022)},
          when=past)
    return out
