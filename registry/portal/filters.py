"""Template helpers: dates in the reader's language and zone, names of kinds and states."""

from __future__ import annotations

import re
from datetime import datetime

from flask import request
from flask_babel import format_date, format_time, get_locale
from flask_babel import lazy_gettext as _l

KIND_NAMES = {"carbon-footprint": _l("Carbon footprint"), "low-carbon": _l("Low-carbon product"),
              "reduced-carbon": _l("Reduced-carbon product"), "carbon-neutral": _l("Carbon-neutral product")}
STATUS_NAMES = {"active": _l("Valid"), "suspended": _l("Suspended"), "revoked": _l("Revoked"),
                "expired": _l("Expired"), "withdrawn": _l("Withdrawn")}
ROLE_NAMES = {"operator": _l("Registry operator"), "body-admin": _l("Body administrator"),
              "certifier": _l("Certifier")}


STAGE_NAMES = {"rawMaterialAcquisition": _l("Raw material acquisition"),
               "rawMaterialTransport": _l("Raw material transport"), "manufacturing": _l("Manufacturing"),
               "distribution": _l("Distribution and sales transport"), "use": _l("Use"),
               "endOfLife": _l("End of life and recycling")}
UNIT_NAMES = {"kilogram": _l("kilogram"), "liter": _l("litre"), "cubic meter": _l("cubic metre"),
              "kilowatt hour": _l("kilowatt hour"), "megajoule": _l("megajoule"),
              "ton kilometer": _l("tonne kilometre"), "square meter": _l("square metre"), "piece": _l("piece"),
              "tonne": _l("tonne"), "meter": _l("metre"), "hour": _l("hour"),
              "megabit second": _l("megabit second")}
#: Formulas read alike in every language; the two families of gases are named.
GAS_NAMES = {"HFCs": _l("HFCs (hydrofluorocarbons)"), "PFCs": _l("PFCs (perfluorocarbons)")}
BOUNDARY_NAMES = {"cradle-to-gate": _l("Cradle to gate"), "cradle-to-grave": _l("Cradle to grave")}
OFFSET_KIND_NAMES = {"removal": _l("Removal"), "avoidance": _l("Avoidance")}
OFFSET_FIELD_NAMES = {"registry": _l("Registry"), "serialNumber": _l("Serial number"),
                      "quantity": _l("Quantity (t CO2e)"), "vintage": _l("Vintage"), "kind": _l("Kind"),
                      "retiredAt": _l("Retired on"), "project": _l("Project")}


FIELD_LABELS = {
    "product.name": _l("Product name (English)"), "product.nameZh": _l("Product name (Chinese)"),
    "product.category": _l("Product category"), "product.gtin": _l("GTIN"), "product.model": _l("Model"),
    "product.manufacturer.name": _l("Manufacturer name"), "product.manufacturer.id": _l("Manufacturer id"),
    "footprint.declaredUnitOfMeasurement": _l("Declared unit"),
    "footprint.declaredUnitAmount": _l("Amount of the declared unit"),
    "footprint.pcfExcludingBiogenicUptake": _l("Footprint excluding biogenic uptake (kg CO2e)"),
    "footprint.pcfIncludingBiogenicUptake": _l("Footprint including biogenic uptake (kg CO2e)"),
    "footprint.referencePeriodStart": _l("Reference period start"),
    "footprint.referencePeriodEnd": _l("Reference period end"), "footprint.boundary": _l("System boundary"),
    "footprint.ipccCharacterizationFactors": _l("IPCC characterisation factors"),
    "footprint.crossSectoralStandards": _l("Accounting standards"),
    "coveredQuantity": _l("Quantity of product covered (declared units)"),
    "renewableElectricityShare": _l("Share of renewable electricity (0 to 1)"), "validUntil": _l("Valid until"),
    "basedOn": _l("Based on"), "type": _l("Kind"),
}


def field_label(path: str) -> str:
    if path in FIELD_LABELS:
        return str(FIELD_LABELS[path])
    parts = path.split(".")
    if path.startswith("footprint.stages."):
        return str(STAGE_NAMES.get(parts[-1], parts[-1]))
    if path.startswith("footprint.gases."):
        return str(GAS_NAMES.get(parts[-1], parts[-1]))
    if path.startswith("offsets.") and len(parts) == 3:
        return f"{_l('Offset %(n)d', n=int(parts[1]) + 1)}: {OFFSET_FIELD_NAMES.get(parts[2], parts[2])}"
    return path


IMPORT_STATUS = {"issued": _l("Issued"), "already issued": _l("Issued before"), "refused": _l("Refused"),
                 "invalid": _l("Has problems"), "pending": _l("Not yet issued")}


_WARNINGS = (
    (re.compile(r"QR module ([\d.]+) mm is below ([\d.]+) mm"),
     _l("The QR code's modules are %(size)s mm, below %(min)s mm: scanning may be unreliable. Print it larger.")),
    (re.compile(r"smallest text is ([\d.]+) mm .* below ([\d.]+) mm"),
     _l("The smallest text is %(size)s mm high, below %(min)s mm: it may be hard to read. Print it larger.")),
    (re.compile(r"text shortened to fit: (.*)"), _l("Text shortened to fit: %(size)s")),
    (re.compile(r"the label font has no glyph for (.*)"), _l("The label font cannot draw %(size)s.")),
)


def label_warning(text: str) -> str:
    """A renderer warning in the reader's language (the renderer speaks English)."""
    for pattern, message in _WARNINGS:
        found = pattern.search(text)
        if found:
            groups = found.groups() + ("",)
            return str(message) % {"size": groups[0], "min": groups[1]}
    return text


BODY_ACTIONS = {"body.accredited": _l("Accredited"), "body.accreditation-added": _l("Accreditation renewed or changed"),
                "body.suspended": _l("Suspended"), "body.reinstated": _l("Reinstated"),
                "body.withdrawn": _l("Withdrawn"), "body.key-rotated": _l("Signing key rotated")}

#: Every action the audit trail records (``audit.record(action=…)``), as the operator reads it.
#: A reinstated certificate is recorded as ``certificate.active``, the state it returns to.
AUDIT_ACTIONS = {
    "certificate.issued": _l("Certificate issued"), "certificate.suspended": _l("Certificate suspended"),
    "certificate.active": _l("Certificate reinstated"), "certificate.revoked": _l("Certificate revoked"),
    "body.accredited": _l("Body accredited"), "body.accreditation-added": _l("Body accreditation renewed or changed"),
    "body.suspended": _l("Body suspended"), "body.reinstated": _l("Body reinstated"),
    "body.withdrawn": _l("Body withdrawn"), "body.key-rotated": _l("Body signing key rotated"),
    "category.created": _l("Product category added"), "category.updated": _l("Product category changed"),
    "client.created": _l("API client created"), "client.secret-rotated": _l("API client secret replaced"),
    "client.disabled": _l("API client disabled"), "client.revoked": _l("API client revoked"),
    "registry.key-rotated": _l("Registry signing key rotated"),
    "user.created": _l("Account created"), "user.invited": _l("Person invited"),
    "user.signed-in": _l("Signed in"), "user.password-changed": _l("Password changed"),
    "user.recovery-codes-generated": _l("New recovery codes made"),
    "user.recovery-code-used": _l("Recovery code used to sign in"),
    "user.disabled": _l("Account disabled"), "user.enabled": _l("Account enabled"),
}
#: The groups the action filter offers: a prefix matches every action of its kind.
AUDIT_GROUPS = {"certificate.": _l("Any certificate action"), "body.": _l("Any body action"),
                "category.": _l("Any category action"), "client.": _l("Any API client action"),
                "registry.": _l("Any registry key action"), "user.": _l("Any account action")}
TARGET_TYPES = {"certificate": _l("Certificate"), "body": _l("Body"), "category": _l("Product category"),
                "client": _l("API client"), "registry": _l("Registry"), "user": _l("Account"),
                "invitation": _l("Invitation")}
#: Who acted, by the prefix of the audit actor (``user:<email>``, ``body:<id>``, ``operator:<client>``, ``cli``).
ACTOR_KINDS = {"user": _l("Person"), "body": _l("Body API client"), "operator": _l("Operator API client"),
               "cli": _l("Command line"), "system": _l("Registry (automatic)")}


def audit_action(action: str) -> str:
    if action in AUDIT_ACTIONS:
        return str(AUDIT_ACTIONS[action])
    if action in AUDIT_GROUPS:
        return str(AUDIT_GROUPS[action])
    return action


def actor_name(actor: str) -> str:
    """The audit actor as a kind of party and its id: ``Person a@example.org``."""
    kind, _sep, who = (actor or "").partition(":")
    if kind in ACTOR_KINDS:
        return f"{ACTOR_KINDS[kind]} {who}".strip()
    return actor


def lang() -> str:
    return str(get_locale() or "en")


def date(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_date(value, "long")


def datetime_(value: datetime | None) -> str:
    if value is None:
        return ""
    zone = "（北京时间）" if lang() == "zh" else " UTC"
    return f"{format_date(value, 'long')} {format_time(value, 'HH:mm')}{zone}"


def history_action(action: str, entry, cert) -> str:
    details = entry.details or {}
    if entry.target_id != cert.id and details.get("cascadeFrom") == cert.id:
        return str(_l("Dependant certificate %(number)s suspended", number=details.get("number", "")))
    if action == "certificate.revoked" and details.get("supersededBy"):
        return str(_l("Superseded by a correction"))
    names = {"certificate.issued": _l("Issued"), "certificate.suspended": _l("Suspended"),
             "certificate.active": _l("Reinstated"), "certificate.revoked": _l("Revoked")}
    return str(names.get(action, action))


#: Fields whose value is English by definition (marked ``lang="en"`` where shown).
ENGLISH_FIELDS = frozenset({"product.name"})


def field_value(value, path: str) -> str:
    """A coded form value as the reader names it (units, boundaries, kinds of offset)."""
    if path == "footprint.declaredUnitOfMeasurement":
        return str(UNIT_NAMES.get(value, value))
    if path == "footprint.boundary":
        return str(BOUNDARY_NAMES.get(value, value))
    if path.startswith("offsets.") and path.endswith(".kind"):
        return str(OFFSET_KIND_NAMES.get(value, value))
    return value


def init_app(app) -> None:
    app.jinja_env.globals["ENGLISH_FIELDS"] = ENGLISH_FIELDS
    app.jinja_env.filters["field_value"] = field_value
    app.jinja_env.filters["unit"] = lambda v: str(UNIT_NAMES.get(v, v))
    app.jinja_env.filters["history_action"] = history_action
    app.jinja_env.filters["field_label"] = field_label
    app.jinja_env.filters["body_action"] = lambda v: str(BODY_ACTIONS.get(v, v))
    app.jinja_env.filters["audit_action"] = audit_action
    app.jinja_env.filters["actor"] = actor_name
    app.jinja_env.filters["target_type"] = lambda v: str(TARGET_TYPES.get(v, v))
    app.jinja_env.filters["unit_option"] = lambda u: (u, str(UNIT_NAMES.get(u, u)))
    app.jinja_env.filters["role_option"] = lambda r: (r, str(ROLE_NAMES.get(r, r)))
    app.jinja_env.filters["body_option"] = lambda b: (b.id, b.name_zh if lang() == "zh" and b.name_zh else b.name)
    app.jinja_env.filters["label_warning"] = label_warning
    app.jinja_env.filters["import_status"] = lambda v: str(IMPORT_STATUS.get(v, v))
    app.jinja_env.filters["stage"] = lambda v: str(STAGE_NAMES.get(v, v))
    app.jinja_env.filters["gas"] = lambda v: str(GAS_NAMES.get(v, v))
    app.jinja_env.filters["offset_kind"] = lambda v: str(OFFSET_KIND_NAMES.get(v, v))
    app.jinja_env.filters["offset_field"] = lambda v: str(OFFSET_FIELD_NAMES.get(v, v))
    app.jinja_env.filters["date"] = date
    app.jinja_env.filters["datetime"] = datetime_
    app.jinja_env.filters["kind"] = lambda v: str(KIND_NAMES.get(v, v))
    app.jinja_env.filters["status"] = lambda v: str(STATUS_NAMES.get(v, v))
    app.jinja_env.filters["role"] = lambda v: str(ROLE_NAMES.get(v, v))

    @app.context_processor
    def _portal_context():
        # Error pages for unmatched /portal addresses have no blueprint but are portal pages.
        if request.blueprint != "portal" and not (request.path + "/").startswith("/portal/"):
            return {}
        code = lang()
        return {"lang": code, "html_lang": "zh-CN" if code == "zh" else "en", "other_lang": "en" if code == "zh" else "zh"}
