"""Representative credential payloads for every certificate kind and grade.

Plain data shaped as ``docs/formats.md`` describes, for label previews, tests, benchmarks and
documentation. Nothing here signs anything: callers sign with their own (test) key.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["KINDS", "GRADES", "sample_credential", "sample_header"]

KINDS = ("carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral")

#: Every grade each kind can carry (None: a footprint whose category has no benchmark).
GRADES: dict[str, tuple[str | None, ...]] = {
    "carbon-footprint": ("A", "B", "C", "D", "E", None),
    "low-carbon": ("A", "B", "C"),
    "reduced-carbon": ("1", "2", "3"),
    "carbon-neutral": ("1", "2", "3"),
}

_TYPE = {
    "carbon-footprint": "CarbonFootprintCertificate",
    "low-carbon": "LowCarbonCertificate",
    "reduced-carbon": "ReducedCarbonCertificate",
    "carbon-neutral": "CarbonNeutralCertificate",
}

# pcf per grade against a benchmark of 1.00 (cn-carbon-label v1: A ≤ 0.70 < B ≤ 0.85 < C ≤ 1.00
# < D ≤ 1.15 < E).
_FOOTPRINT_PCF = {"A": "0.65", "B": "0.82", "C": "0.95", "D": "1.10", "E": "1.30", None: "0.82"}
# Baseline 1.20 → current, reduction tiers 1 (≥ 3 %), 2 (≥ 10 %), 3 (≥ 20 %).
_REDUCED_CURRENT = {"1": "1.14", "2": "1.068", "3": "0.90"}

_PRODUCTS = {
    "carbon-footprint": {
        "name": "P.O 42.5 ordinary Portland cement", "nameZh": "普通硅酸盐水泥 P.O 42.5",
        "category": "cement", "gtin": "06901234567892", "model": "PO42.5",
        "manufacturer": {"name": "Jiangnan Cement Co., Ltd.", "id": "urn:uscc:91310000MA1FL0XX1Q"},
    },
    "low-carbon": {
        "name": "Float glass 6 mm clear", "nameZh": "浮法玻璃 6 毫米 透明",
        "category": "flat-glass", "gtin": "06901234567908", "model": "FG-6C",
        "manufacturer": {"name": "Huadong Glass Co., Ltd.", "id": "urn:uscc:91320500MA1MXX0XX2"},
    },
    "reduced-carbon": {
        "name": "Warp-knitted mesh fabric, recycled polyester", "nameZh": "再生涤纶经编网眼布",
        "category": "textile-fabric", "gtin": "06901234567915", "model": "WK-M120R",
        "manufacturer": {"name": "Haining Warp Knitting Co., Ltd.",
                         "id": "urn:uscc:91330481MA2BXX0XX3"},
    },
    "carbon-neutral": {
        "name": "Porcelain floor tile 600 x 600 mm", "nameZh": "瓷质抛光砖 600×600 毫米",
        "category": "ceramic-tile", "gtin": "06901234567922", "model": "PT-6060",
        "manufacturer": {"name": "Foshan Ceramics Co., Ltd.", "id": "urn:uscc:91440600MA4UXX0XX4"},
    },
}

_UNITS = {"carbon-footprint": "kilogram", "low-carbon": "square meter",
          "reduced-carbon": "kilogram", "carbon-neutral": "square meter"}


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "carbon-label-sample:" + ":".join(map(str, parts))))


def _footprint(pcf: str, unit: str, year: int = 2025) -> dict:
    p = Decimal(pcf)
    q = Decimal("0.001")
    return {
        "declaredUnitOfMeasurement": unit, "declaredUnitAmount": "1",
        "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": pcf,
        "referencePeriodStart": f"{year}-01-01T00:00:00Z",
        "referencePeriodEnd": f"{year}-12-31T23:59:59Z",
        "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "stages": {"rawMaterialAcquisition": str((p * Decimal("0.12")).quantize(q)),
                   "rawMaterialTransport": str((p * Decimal("0.03")).quantize(q)),
                   "manufacturing": str(p - (p * Decimal("0.12")).quantize(q)
                                        - (p * Decimal("0.03")).quantize(q))},
        "gases": {"CO2": str((p * Decimal("0.97")).quantize(q)),
                  "CH4": str((p * Decimal("0.02")).quantize(q)),
                  "N2O": str(p - (p * Decimal("0.97")).quantize(q) - (p * Decimal("0.02")).quantize(q)),
                  "HFCs": "0", "PFCs": "0", "SF6": "0", "NF3": "0"},
    }


def sample_header(*, body_did: str | None = None, alg: str = "EdDSA", key_id: str = "key-1") -> dict:
    """The JWS header a certification body puts on a credential (``docs/formats.md``)."""
    body_did = body_did or "did:web:labels.example.org:bodies:" + _uid("body")
    return {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": f"{body_did}#{key_id}"}


def sample_credential(kind: str, grade: str | None = "__default__", *,
                      base_url: str = "https://labels.example.org", serial: int = 123,
                      body_did: str | None = None) -> dict:
    """A credential payload of ``kind`` whose grade is ``grade`` (see :data:`GRADES`).

    ``serial`` varies the certificate id, number and status indexes deterministically.
    Raises ``ValueError`` for an unknown kind or a grade the kind cannot have.
    """
    if kind not in _TYPE:
        raise ValueError(f"unknown certificate kind {kind!r}")
    if grade == "__default__":
        grade = GRADES[kind][1] if kind != "reduced-carbon" else "2"
    if grade not in GRADES[kind]:
        raise ValueError(f"{kind} cannot have grade {grade!r}")
    body_did = body_did or "did:web:" + base_url.split("://", 1)[1].replace(":", "%3A") \
        + ":bodies:" + _uid("body")
    cert_id = _uid(kind, grade, serial)
    unit = _UNITS[kind]
    subject: dict = {
        "id": f"{base_url}/v/{cert_id}",
        "type": "CarbonLabelledProduct",
        "certificateNumber": f"CQC-2026-{serial:06d}",
        "certificateType": kind,
        "product": dict(_PRODUCTS[kind]),
    }
    if kind in ("carbon-footprint", "low-carbon"):
        pcf = _FOOTPRINT_PCF[grade] if kind == "carbon-footprint" else \
            {"A": "0.62", "B": "0.80", "C": "0.97"}[grade]
        subject["footprint"] = _footprint(pcf, unit)
        if grade is not None:
            subject["benchmark"] = {"value": "1.00", "standard": "GB/T 32151 category rule",
                                    "source": "cn-carbon-label benchmark 2025"}
    elif kind == "reduced-carbon":
        current = _REDUCED_CURRENT[grade]
        baseline = "1.20"
        reduction = ((Decimal(baseline) - Decimal(current)) / Decimal(baseline)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
        subject["footprint"] = _footprint(current, unit, 2022)
        b_id, c_id = _uid("baseline", serial), _uid("current", serial)
        subject["reduction"] = {
            "basedOn": [f"urn:uuid:{b_id}", f"urn:uuid:{c_id}"],
            "baseline": {"id": f"urn:uuid:{b_id}", "certificateNumber": f"CQC-2022-{serial:06d}",
                         "referencePeriodStart": "2021-01-01T00:00:00Z",
                         "referencePeriodEnd": "2021-12-31T23:59:59Z", "pcf": baseline},
            "current": {"id": f"urn:uuid:{c_id}", "certificateNumber": f"CQC-2023-{serial:06d}",
                        "referencePeriodStart": "2022-01-01T00:00:00Z",
                        "referencePeriodEnd": "2022-12-31T23:59:59Z", "pcf": current},
            "reduction": str(reduction),
        }
    else:
        pcf = "8.20"
        subject["footprint"] = _footprint(pcf, unit)
        covered = "1000"
        emissions = Decimal(pcf) * Decimal(covered)
        kinds = {"1": ("avoidance", "avoidance"), "2": ("avoidance", "removal"),
                 "3": ("removal", "removal")}[grade]
        offsets = [
            {"registry": "CCER", "serialNumber": f"CCER-2024-{serial:05d}-0001", "quantity": "5.000",
             "vintage": "2024", "kind": kinds[0], "retiredAt": "2025-06-30T00:00:00Z",
             "project": "Guangdong mangrove restoration" if kinds[0] == "removal"
             else "Offshore wind farm, Fujian"},
            {"registry": "CCER", "serialNumber": f"CCER-2025-{serial:05d}-0002", "quantity": "3.500",
             "vintage": "2025", "kind": kinds[1], "retiredAt": "2025-09-30T00:00:00Z",
             "project": "Yunnan afforestation" if kinds[1] == "removal"
             else "Highway tunnel lighting efficiency"},
        ]
        subject["neutrality"] = {
            "coveredQuantity": covered, "emissionsCovered": f"{emissions:.3f}",
            "offsetsTotal": "8.500",
            "renewableElectricityShare": "0.6" if grade == "1" else "1",
            "offsets": offsets,
        }
    subject["grade"] = {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": grade}
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", f"{base_url}/contexts/carbon-label/v1"],
        "id": f"urn:uuid:{cert_id}",
        "type": ["VerifiableCredential", _TYPE[kind]],
        "issuer": body_did,
        "validFrom": "2026-01-15T08:00:00Z",
        "validUntil": "2028-12-31T23:59:59Z",
        "credentialSubject": subject,
        "credentialStatus": [
            {"id": f"{base_url}/status/r1#{1000 + serial}", "type": "BitstringStatusListEntry",
             "statusPurpose": "revocation", "statusListIndex": str(1000 + serial),
             "statusListCredential": f"{base_url}/status/r1"},
            {"id": f"{base_url}/status/s1#{2000 + serial}", "type": "BitstringStatusListEntry",
             "statusPurpose": "suspension", "statusListIndex": str(2000 + serial),
             "statusListCredential": f"{base_url}/status/s1"},
        ],
    }
