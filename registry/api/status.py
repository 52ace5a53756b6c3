"""Bitstring Status List credentials and the JSON-LD context of our credentials."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import Response, current_app, request
from sqlalchemy import func, select

import verifier as statuslist

from ..db import get_session
from ..errors import NotFound
from ..http import limiter
from ..models import StatusList, utcnow
from ..signing import did_for
from . import doc, public

# Every term our credentials and DID documents use beyond the VC 2.0, DID and CID contexts. Never a
# term those define (`name`, `description`, `id`, `type`, …): they are protected, and redefining
# one makes JSON-LD expansion of every credential fail (`name` comes from VC 2.0: schema.org name).
TERMS = (
    "CarbonFootprintCertificate", "LowCarbonCertificate", "ReducedCarbonCertificate", "CarbonNeutralCertificate",
    "CarbonLabelledProduct", "certificateNumber", "certificateType", "product", "nameZh", "category", "gtin",
    "model", "manufacturer", "footprint", "declaredUnitOfMeasurement", "declaredUnitAmount",
    "pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "referencePeriodStart", "referencePeriodEnd",
    "boundary", "ipccCharacterizationFactors", "crossSectoralStandards", "stages", "rawMaterialAcquisition",
    "rawMaterialTransport", "manufacturing", "distribution", "use", "endOfLife", "gases", "CO2", "CH4", "N2O",
    "HFCs", "PFCs", "SF6", "NF3", "benchmark", "value", "standard", "source", "grade", "scheme", "schemeVersion",
    "reduction", "basedOn", "baseline", "current", "pcf", "neutrality", "coveredQuantity", "emissionsCovered",
    "offsetsTotal", "renewableElectricityShare", "offsets", "registry", "serialNumber", "quantity", "vintage", "kind",
    "retiredAt", "project", "precedingIds", "packSize",
)


XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"

#: A signed list is re-signed once it is older than this fraction of its lifetime, so a verifier
#: that fetched it at any time holds one valid for at least the rest (3/4 of a day by default).
REFRESH_FRACTION = 0.25


class _SignedCache:
    """Signed copies per list: ``list id → (version, signed at, token)``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: dict[str, tuple[int, datetime, str]] = {}


def published(row: StatusList, *, now: datetime | None = None) -> tuple[str, datetime]:
    """The signed credential of ``row`` as published at ``now``: ``(compact JWS, signed at)``.

    A list is signed when its bits change and again whenever the signed copy has aged past
    :data:`REFRESH_FRACTION` of ``REGISTRY_STATUS_LIST_TTL``: a list with no change for days is
    still valid for every verifier. ``validFrom`` is the signing time (the bits are current as of
    then) and ``validUntil`` that plus the lifetime.
    """
    now = now or utcnow()
    cfg = current_app.config
    ttl = timedelta(seconds=int(cfg["STATUS_LIST_TTL"]))
    cache = current_app.extensions.setdefault("registry.status_cache", _SignedCache())
    with cache.lock:
        cached = cache.items.get(row.id)
    if cached is not None and cached[0] == row.version and cached[1] <= now < cached[1] + ttl * REFRESH_FRACTION:
        return cached[2], cached[1]
    session = get_session()
    signer = current_app.extensions["registry.signer"]
    reg_key = signer.registry_key(session, cfg["PUBLIC_URL"])
    signed_at = now.replace(microsecond=0)
    payload = statuslist.build_status_list_credential(
        list_url=f"{cfg['PUBLIC_URL']}/status/{row.id}", issuer=did_for(cfg["PUBLIC_URL"]), purpose=row.purpose,
        encoded_list=statuslist.encode_list(row.bits), valid_from=signed_at, valid_until=signed_at + ttl)
    token = signer.sign(payload, reg_key, typ="vc+jwt", cty="vc")
    if session.new:
        session.commit()
    with cache.lock:
        cache.items[row.id] = (row.version, signed_at, token)
    return token, signed_at


@public.get("/status/<list_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(tags=["public"])
def status_list(list_id: str):
    """A Bitstring Status List credential (compact JWS signed by the registry key), kept fresh."""
    row = get_session().get(StatusList, list_id) if len(list_id) <= 16 else None
    if row is None:
        raise NotFound(f"No status list {list_id!r}", type="status-list-not-found")
    token, signed_at = published(row)
    # The signing time is part of the tag: each worker signs its own copy, and a re-signed copy
    # (same bits, later validUntil) is a new representation.
    etag = f"{row.id}-{row.version}-{int(signed_at.timestamp())}"
    if request.if_none_match.contains(etag):
        return _status_response(Response(status=304), etag)
    return _status_response(Response(token, mimetype="application/vc+jwt"), etag)


def _status_response(resp: Response, etag: str) -> Response:
    resp.set_etag(etag)
    # A verifier may rely on a list for at most this long: the bound on how late a revocation shows.
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['VERIFY_CACHE_SECONDS']}, must-revalidate"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@public.get("/status")
@doc(tags=["public"])
def status_index():
    """Every status list's URL, for verifiers that save them for offline use."""
    base = current_app.config["PUBLIC_URL"]
    ids = get_session().scalars(select(StatusList.id).order_by(func.length(StatusList.id), StatusList.id)).all()
    return {"lists": [f"{base}/status/{i}" for i in ids]}


@public.get("/contexts/carbon-label/v1")
@doc(tags=["public"])
def context():
    """The JSON-LD context defining every term of our credentials."""
    ns = current_app.config["PUBLIC_URL"] + "/contexts/carbon-label/v1#"
    body = {"@context": {"@protected": True, **{t: {"@id": ns + t} for t in TERMS},
                         "precedingIds": {"@id": ns + "precedingIds", "@type": "@id", "@container": "@set"},
                         "basedOn": {"@id": ns + "basedOn", "@type": "@id"},
                         **{t: {"@id": ns + t, "@type": XSD_DATETIME} for t in ("activeFrom", "activeUntil")}}}
    return body, 200, {"Content-Type": "application/ld+json", "Cache-Control": "public, max-age=86400",
                       "Access-Control-Allow-Origin": "*"}
