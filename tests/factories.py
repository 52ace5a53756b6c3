"""Plain helpers that build flushed rows and obtain tokens through the real endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from registry import auth
from registry.services import accreditation

from .conftest import basic

NOW = datetime.now(timezone.utc).replace(microsecond=0)

CATEGORIES = {
    "cement": ("General Portland cement", "通用硅酸盐水泥", "kilogram", "0.90"),
    "lithium-battery": ("Lithium-ion battery", "锂离子电池", "kilowatt hour", "80"),
    "textile-fabric": ("Textile fabric", "纺织面料", "kilogram", None),
}


def make_category(session, code="cement", *, benchmark: str | None = "__default__", **overrides):
    name, name_zh, unit, default_benchmark = CATEGORIES.get(code, (code.title(), None, "kilogram", "1.00"))
    value = default_benchmark if benchmark == "__default__" else benchmark
    data = {"name": name, "nameZh": name_zh, "declaredUnitOfMeasurement": unit,
            "benchmark": {"value": value, "standard": "T/TEST 0001-2025", "source": "test data"} if value else None}
    data.update(overrides)
    category, _ = accreditation.put_category(session, code, data, actor="test")
    return category


def body_data(**overrides) -> dict:
    data = {"name": f"Test Certification Centre {uuid.uuid4().hex[:6]}", "nameZh": "测试认证中心", "country": "CN",
            "accreditation": {"number": f"CNCA-R-{uuid.uuid4().hex[:6]}",
                              "validFrom": NOW - timedelta(days=365), "validUntil": NOW + timedelta(days=3 * 365),
                              "scope": {"certificateTypes": ["carbon-footprint", "low-carbon", "reduced-carbon",
                                                             "carbon-neutral"],
                                        "productCategories": ["cement"]}}}
    data.update(overrides)
    return data


def make_body(session, app, **overrides):
    """A body with its key and client; returns (body, client_id, secret)."""
    with app.app_context():
        body, client, secret = accreditation.create_body(
            session, app.extensions["registry.signer"], body_data(**overrides),
            public_url=app.config["PUBLIC_URL"], actor="test")
    return body, client.client_id, secret


def make_operator(session, name="Test operator"):
    client, secret = auth.create_client(session, name=name, role="operator")
    session.flush()
    return client.client_id, secret


def token_for(client, client_id: str, secret: str) -> str:
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, secret)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def operator_headers(client, session) -> dict:
    return bearer(token_for(client, *make_operator(session)))


def footprint(pcf: str = "0.82", *, start: str = "2025-01-01T00:00:00Z", end: str = "2025-12-31T23:59:59Z",
              **overrides) -> dict:
    from decimal import Decimal

    value = Decimal(pcf)
    data = {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
            "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": pcf,
            "referencePeriodStart": start, "referencePeriodEnd": end, "boundary": "cradle-to-gate",
            "ipccCharacterizationFactors": ["AR6"], "crossSectoralStandards": ["ISO14067", "GB/T24067"],
            "stages": {"rawMaterialAcquisition": str(value * Decimal("0.2")),
                       "rawMaterialTransport": str(value * Decimal("0.05")),
                       "manufacturing": str(value - value * Decimal("0.2") - value * Decimal("0.05")),
                       "distribution": None, "use": None, "endOfLife": None}}
    data.update(overrides)
    return data


def product(category: str = "cement", **overrides) -> dict:
    data = {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": category,
            "gtin": "06901234567892", "model": "PO42.5",
            "manufacturer": {"name": "Anhui Demo Cement Co.", "id": "urn:uscc:91340000MA2N00001X"}}
    data.update(overrides)
    return data


def certificate_request(kind: str = "carbon-footprint", **overrides) -> dict:
    data = {"type": kind, "product": product(), "footprint": footprint(), "validUntil": "2028-12-31T23:59:59Z"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def offsets(*quantities: str, kind: str = "removal", prefix: str | None = None) -> list[dict]:
    prefix = prefix or uuid.uuid4().hex[:8]
    return [{"registry": "CCER", "serialNumber": f"CCER-{prefix}-{i}", "quantity": q, "vintage": "2024",
             "kind": kind, "retiredAt": "2025-06-30T00:00:00Z", "project": "Mangrove restoration, Guangxi"}
            for i, q in enumerate(quantities)]


def commit_body(app, **overrides):
    """Commit the cement category (if missing) and a new body for a live server or a benchmark,
    outside any test transaction; returns (body, client_id, secret)."""
    from registry.db import new_session

    with app.app_context():
        session = new_session()
        try:
            if session.get(accreditation.Category, "cement") is None:
                make_category(session, "cement")
            body, client, secret = accreditation.create_body(
                session, app.extensions["registry.signer"], body_data(**overrides),
                public_url=app.config["PUBLIC_URL"], actor="test")
            session.commit()
            return body, client.client_id, secret
        finally:
            session.close()
