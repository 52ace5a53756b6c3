"""The trust root: categories, certification bodies, their accreditation and keys."""

from __future__ import annotations

import functools
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import verifier as trust
from verifier import key_from_jwk

from .. import auth, tlog
from ..domain.values import time_str
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Accreditation, Body, Category, Interruption, SigningKey, utcnow
from ..signing import Signer, did_for
from . import audit

log = logging.getLogger("registry")


def _ceil(value: datetime | None) -> datetime | None:
    """Published ends of key periods and starts of interruptions round up to the second.

    Credentials carry whole seconds, so a certificate signed at 12:00:00.4, before a rotation or
    suspension at 12:00:00.9, states validFrom 12:00:00; rounding down here would disown it.
    """
    if value is None or not value.microsecond:
        return value
    return value.replace(microsecond=0) + timedelta(seconds=1)


def _key_entry(k: SigningKey) -> dict:
    return trust.trust_list_key(kid=k.kid, public_key=key_from_jwk(k.public_jwk), active_from=k.active_from,
                                active_until=_ceil(k.active_until))


@functools.lru_cache(maxsize=4096)  # every credential a body signs names it: parse the URL once
def body_did(public_url: str, body_id: str) -> str:
    return trust.body_did(public_url, body_id)


def put_category(session: Session, code: str, data: dict, *, actor: str, demo: bool = False) -> tuple[Category, bool]:
    category = session.get(Category, code)
    created = category is None
    if created:
        category = Category(code=code)
        session.add(category)
    before = None if created else _category_state(category)
    benchmark = data.get("benchmark")
    category.name = data["name"]
    category.name_zh = data.get("nameZh")
    category.declared_unit = data["declaredUnitOfMeasurement"]
    category.benchmark_value = str(benchmark["value"]) if benchmark else None
    category.benchmark_standard = benchmark["standard"] if benchmark else None
    category.benchmark_source = benchmark["source"] if benchmark else None
    category.demo = demo
    session.flush()
    audit.record(session, actor=actor, action="category.created" if created else "category.updated",
                 target_type="category", target_id=code,
                 details={"before": before, "after": _category_state(category)})
    return category, created


def _category_state(c: Category) -> dict:
    return {"name": c.name, "nameZh": c.name_zh, "declaredUnit": c.declared_unit,
            "benchmark": c.benchmark_value, "standard": c.benchmark_standard, "source": c.benchmark_source}


def get_body(session: Session, body_id: str) -> Body:
    body = session.get(Body, body_id) if isinstance(body_id, str) and len(body_id) <= 36 else None
    if body is None:
        raise NotFound(f"No certification body {body_id!r}", type="body-not-found")
    return body


def _check_scope_categories(session: Session, categories: list[str]) -> None:
    known = set(session.scalars(select(Category.code).where(Category.code.in_(categories))))
    missing = [c for c in categories if c not in known]
    if missing:
        raise InvalidInput("The accreditation scope names unknown product categories",
                           errors={"accreditation.scope.productCategories": [f"Unknown category: {c}" for c in missing]})


def _unique_code(session: Session, name: str, wanted: str | None) -> str:
    if wanted:
        if session.scalars(select(Body.id).where(Body.code == wanted)).first():
            raise Conflict(f"Body code {wanted} is taken", type="body-code-taken")
        return wanted
    base = "".join(w[0] for w in re.findall(r"[A-Za-z0-9]+", name)).upper()[:6] or "CB"
    if len(base) < 2:
        base = (base + "CB")[:2]
    code, n = base, 1
    while session.scalars(select(Body.id).where(Body.code == code)).first():
        n += 1
        code = f"{base}{n}"
    return code


def create_body(session: Session, signer: Signer, data: dict, *, public_url: str, actor: str,
                algorithm: str = "EdDSA", demo: bool = False, now: datetime | None = None):
    """Accredit a new body: its record, first accreditation, key pair and OAuth client."""
    now = now or utcnow()
    acc = data["accreditation"]
    _check_scope_categories(session, acc["scope"]["productCategories"])
    body = Body(name=data["name"], name_zh=data.get("nameZh"), country=data["country"],
                code=_unique_code(session, data["name"], data.get("code")), status="active", demo=demo,
                created_at=now)
    session.add(body)
    session.flush()
    session.add(_accreditation(body, acc, now))
    # Backdate the first key to the accreditation start so certificates valid from then verify.
    key = signer.new_key(session, owner="body", did=body_did(public_url, body.id), body_id=body.id,
                         algorithm=data.get("keyAlgorithm") or algorithm, now=min(now, acc["validFrom"]))
    client, secret = auth.create_client(session, name=body.name, role="body", body_id=body.id)
    audit.record(session, actor=actor, action="body.accredited", target_type="body", target_id=body.id,
                 details={"name": body.name, "code": body.code, "accreditation": _acc_state(acc),
                          "kid": key.kid, "clientId": client.client_id})
    tlog.append(session, "body.accredited", body_id=body.id, document={"name": body.name, "accreditation": _acc_state(acc)})
    return body, client, secret


def _accreditation(body: Body, acc: dict, now: datetime) -> Accreditation:
    return Accreditation(body_id=body.id, number=acc["number"], valid_from=acc["validFrom"],
                         valid_until=acc["validUntil"],
                         certificate_types=sorted(set(acc["scope"]["certificateTypes"])),
                         product_categories=sorted(set(acc["scope"]["productCategories"])), created_at=now)


def _acc_state(acc: dict) -> dict:
    return {"number": acc["number"], "validFrom": time_str(acc["validFrom"]),
            "validUntil": time_str(acc["validUntil"]), "scope": acc["scope"]}


def add_accreditation(session: Session, body: Body, acc: dict, *, actor: str) -> Accreditation:
    """Record a renewal or change of scope; earlier decisions stay as history."""
    if body.status == "withdrawn":
        raise Conflict("A withdrawn body cannot be accredited again", type="body-withdrawn")
    _check_scope_categories(session, acc["scope"]["productCategories"])
    row = _accreditation(body, acc, utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="body.accreditation-added", target_type="body",
                 target_id=body.id, details=_acc_state(acc))
    tlog.append(session, "body.accreditation-added", body_id=body.id, document=_acc_state(acc))
    return row


def suspend_body(session: Session, body: Body, reason: str, *, actor: str) -> Body:
    if body.status != "active":
        raise Conflict(f"The body is {body.status}, not active", type="invalid-transition")
    body.status = "suspended"
    session.add(Interruption(body_id=body.id, kind="suspended", reason=reason, started_at=utcnow()))
    session.flush()
    audit.record(session, actor=actor, action="body.suspended", target_type="body", target_id=body.id,
                 reason=reason)
    tlog.append(session, "body.suspended", body_id=body.id, document={"reason": reason})
    return body


def reinstate_body(session: Session, body: Body, reason: str, *, actor: str) -> Body:
    if body.status != "suspended":
        raise Conflict(f"The body is {body.status}, not suspended", type="invalid-transition")
    body.status = "active"
    for row in body.interruptions:
        if row.kind == "suspended" and row.ended_at is None:
            row.ended_at = utcnow()
            row.end_reason = reason
    session.flush()
    audit.record(session, actor=actor, action="body.reinstated", target_type="body", target_id=body.id,
                 reason=reason)
    tlog.append(session, "body.reinstated", body_id=body.id, document={"reason": reason})
    return body


def withdraw_body(session: Session, body: Body, reason: str, *, actor: str) -> Body:
    if body.status == "withdrawn":
        raise Conflict("The body is already withdrawn", type="invalid-transition")
    now = utcnow()
    for row in body.interruptions:
        if row.ended_at is None:
            row.ended_at = now
            row.end_reason = "withdrawn"
    body.status = "withdrawn"
    session.add(Interruption(body_id=body.id, kind="withdrawn", reason=reason, started_at=now))
    for client in body.clients:
        client.disabled_at = client.disabled_at or now
    session.flush()
    audit.record(session, actor=actor, action="body.withdrawn", target_type="body", target_id=body.id,
                 reason=reason)
    tlog.append(session, "body.withdrawn", body_id=body.id, document={"reason": reason})
    return body


def current_key(session: Session, body: Body) -> SigningKey:
    key = session.scalars(select(SigningKey).where(SigningKey.body_id == body.id,
                                                   SigningKey.active_until.is_(None))).first()
    if key is None:
        raise Conflict("The body has no active key", type="no-active-key")
    return key


def rotate_key(session: Session, signer: Signer, body: Body, *, public_url: str, actor: str,
               algorithm: str | None = None, reason: str | None = None) -> SigningKey:
    """Retire the current key (it stays published) and activate a new one."""
    if body.status == "withdrawn":
        raise Conflict("A withdrawn body's keys cannot be rotated", type="body-withdrawn")
    old = current_key(session, body)
    now = utcnow()
    old.active_until = now
    session.flush()
    new = signer.new_key(session, owner="body", did=body_did(public_url, body.id), body_id=body.id,
                         algorithm=algorithm or old.algorithm, now=now)
    audit.record(session, actor=actor, action="body.key-rotated", target_type="body", target_id=body.id,
                 reason=reason, details={"retired": old.kid, "new": new.kid})
    tlog.append(session, "body.key-rotated", body_id=body.id, document={"retired": old.kid, "new": new.kid})
    return new


def accredited_at(body: Body, when: datetime, kind: str, category: str) -> tuple[bool, str | None]:
    """Was ``body`` entitled to certify ``kind`` × ``category`` at ``when``? Returns (ok, refusal type)."""
    for row in body.interruptions:
        if row.started_at <= when and (row.ended_at is None or when < row.ended_at):
            return False, "not-accredited"
    covering = [a for a in body.accreditations if a.valid_from <= when < a.valid_until]
    if not covering:
        return False, "not-accredited"
    # The newest decision in force defines the scope.
    latest = max(covering, key=lambda a: a.id)
    if kind not in latest.certificate_types or category not in latest.product_categories:
        return False, "out-of-scope"
    return True, None


def body_keys_out(body: Body) -> list[dict]:
    return [_key_entry(k) for k in body.keys]


def did_document(body: Body, public_url: str) -> dict:
    current = [k.kid for k in body.keys if k.active_until is None]
    return trust.build_did_document(did=body_did(public_url, body.id), keys=body_keys_out(body),
                                    current_kid=current[0] if current else None,
                                    context=trust.context_url(public_url))


def registry_keys(session: Session, public_url: str) -> list[SigningKey]:
    """Every key the registry has had under its current DID."""
    return list(session.scalars(select(SigningKey).where(
        SigningKey.owner == "registry", SigningKey.kid.startswith(did_for(public_url) + "#", autoescape=True))
        .order_by(SigningKey.id)))


def registry_did_document(session: Session, public_url: str) -> dict:
    keys = registry_keys(session, public_url)
    current = [k.kid for k in keys if k.active_until is None]
    return trust.build_did_document(did=did_for(public_url), keys=[_key_entry(k) for k in keys],
                                    current_kid=current[0] if current else None,
                                    context=trust.context_url(public_url))


def trust_list_payload(session: Session, public_url: str, ttl: int) -> dict:
    now = utcnow()
    # Four plain queries for any number of bodies: no lazy loads, and no ORM objects to build
    # (with 1,000 bodies the ORM's bookkeeping cost more than everything else here).
    bodies = session.execute(select(Body.id, Body.code, Body.name, Body.name_zh, Body.country, Body.status)
                             .order_by(Body.created_at, Body.id)).all()
    accreditations = _by_body(session, select(
        Accreditation.body_id, Accreditation.number, Accreditation.valid_from, Accreditation.valid_until,
        Accreditation.certificate_types, Accreditation.product_categories).order_by(Accreditation.id))
    interruptions = _by_body(session, select(
        Interruption.body_id, Interruption.kind, Interruption.started_at, Interruption.ended_at,
        Interruption.reason).order_by(Interruption.id))
    keys = _by_body(session, select(SigningKey.body_id, SigningKey.kid, SigningKey.public_jwk, SigningKey.active_from,
                                    SigningKey.active_until).where(SigningKey.body_id.is_not(None))
                    .order_by(SigningKey.id))
    out = []
    for b in bodies:
        did = body_did(public_url, b.id)
        b_keys = keys.get(b.id, [])
        if any(not k.kid.startswith(did + "#") for k in b_keys):
            # Keys made under another REGISTRY_PUBLIC_URL name another DID: publishing them would
            # make the whole list inconsistent, so such a body is left out (its certificates then
            # fail as UNKNOWN_ISSUER) and the operator is told.
            log.warning("trust list: body %s has keys made under another public URL; left out", b.id)
            continue
        entry = trust.trust_list_body(
            id=b.id, did=did, name=b.name, name_zh=b.name_zh, country=b.country, status=b.status,
            accreditations=[trust.accreditation_entry(number=a.number, valid_from=a.valid_from,
                                                      valid_until=a.valid_until, certificate_types=a.certificate_types,
                                                      product_categories=a.product_categories)
                            for a in accreditations.get(b.id, [])],
            interruptions=[trust.interruption_entry(status=i.kind, start=_ceil(i.started_at), end=i.ended_at,
                                                    reason=i.reason) for i in interruptions.get(b.id, [])],
            keys=[_key_entry(k) for k in b_keys])
        entry["code"] = b.code
        out.append(entry)
    payload = trust.build_trust_list(public_url=public_url, bodies=out, issued_at=now,
                                     expires_at=now + timedelta(seconds=ttl))
    payload["transparencyLog"] = tlog.log_descriptor(session, public_url)
    return payload


def _by_body(session: Session, stmt) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in session.execute(stmt):
        out.setdefault(row.body_id, []).append(row)
    return out


def jwks(session: Session, public_url: str) -> dict:
    return {"keys": [trust.jwks_entry(key_from_jwk(k.public_jwk), k.kid) for k in registry_keys(session, public_url)]}
