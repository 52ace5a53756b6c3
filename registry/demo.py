"""Demonstration data: an operator, categories, accredited bodies and certificates of every kind.

Benchmarks and bodies created here are flagged ``demo``: they are illustrations, not official values.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from . import auth
from .models import Body, OAuthClient
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
    summary = {"publicUrl": public_url,
               "operator": {"clientId": operator.client_id, "clientSecret": op_secret},
               "bodies": bodies, "certificates": []}
    session.flush()
    creds_file.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    creds_file.chmod(0o600)
    return summary
