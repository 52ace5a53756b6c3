"""The API's English rule and schema messages in the reader's language.

The schemas and services speak English to API clients; people read the same messages through
this table (exact messages, then by the start of a message whose end names values). A message
the table does not know is shown as it is.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

EXACT = {
    "Missing data for required field.": _l("Enter a value: it is required."),
    "Field may not be null.": _l("Enter a value: it is required."),
    "Unknown field.": _l("This field is not used for this kind of certificate."),
    "Not a valid string.": _l("Enter text."),
    "Not a valid list.": _l("Enter a list, values separated by semicolons."),
    "Must not be blank.": _l("Enter a value: it must not be blank."),
    "Must be a decimal number.": _l("Enter a number, like 0.82."),
    "Must be greater than zero.": _l("Enter a number greater than zero."),
    "Must be from 0 to 1.": _l("Enter a number from 0 to 1, like 0.45."),
    "A GTIN has 8, 12, 13 or 14 digits.": _l("Enter a GTIN of 8, 12, 13 or 14 digits."),
    "The GTIN check digit is wrong.": _l("The GTIN's check digit is wrong: check the number on the barcode."),
    "Must be after referencePeriodStart.": _l("The end of the reference period must be after its start."),
    "Must be a certificate id (a UUID).": _l("Choose a certificate from the list."),
    "A certificate is listed more than once.": _l("Choose each certificate once only."),
    "At least one retired offset is needed.": _l("Enter at least one retired offset."),
    "Must be in the future.": _l("Enter a date in the future."),
    "Must not repeat a value.": _l("Enter each value once only."),
    "Unknown category.": _l("Choose a product category from the list."),
    "A category code: lower-case letters, digits and hyphens.": _l("Choose a product category from the list."),
    "Must be a year, e.g. \"2024\".": _l("Enter a year, like 2024."),
    "Enter a date and time.": _l("Enter a date, like 2026-12-31."),
    "Must not be negative.": _l("Enter a number of zero or more."),
    "Must be after the footprint's referencePeriodEnd.": _l("Enter a date after the end of the reference period."),
    "Must be an object.": _l("Fill in this group of fields."),
    "Must not exceed pcfExcludingBiogenicUptake (biogenic uptake is zero or negative).":
        _l("Enter a footprint including biogenic uptake no larger than the one excluding it."),
    "Must not be in the future: a footprint covers a period that is over.":
        _l("Enter an end date in the past: a footprint covers a period that is over."),
    "Unknown life-cycle stage.": _l("This life-cycle stage is not used."),
    "Not one of the seven Kyoto gases.": _l("Enter only the seven Kyoto gases."),
    "Must be a non-empty string.": _l("Enter a value: it is required."),
    "Must be a decimal number of t CO2e.": _l("Enter a number of tonnes CO2e, like 0.7."),
    "Must be greater than zero (t CO2e).": _l("Enter a number of tonnes CO2e greater than zero."),
    "Must not be in the future: only retired offsets count.": _l("Enter a retirement date in the past: only "
                                                               "retired offsets count."),
    "Must not be in the future.": _l("Enter a year that is not in the future."),
    "Must not be after the year of retirement (retiredAt).": _l("Enter a vintage no later than the year the offset "
                                                                "was retired."),
    "Must be a decimal number of declared units.": _l("Enter a number of declared units, like 1000."),
    "Must be a decimal number from 0 to 1.": _l("Enter a number from 0 to 1, like 0.45."),
    "The certification body holds no accreditation in force":
        _l("Your certification body holds no accreditation in force: it cannot issue certificates."),
    "The certificate to supersede does not exist": _l("The certificate to correct does not exist."),
    "Only the issuing body can correct a certificate": _l("Only the issuing body can correct a certificate."),
    "A revoked certificate cannot be corrected": _l("A revoked certificate cannot be corrected."),
    "An offset in this request already backs another certificate":
        _l("An offset already backs another certificate; an offset backs one certificate only."),
    "An offset in this row is also used by an earlier row": _l("An offset in this row is also used by an earlier "
                                                               "row; an offset backs one certificate only."),
    "This Idempotency-Key was used for a different request":
        _l("This form was already used for another certificate. Start a new one."),
    "Unknown category": _l("Choose a product category from the list."),
    "The accreditation scope names unknown product categories": _l("Choose product categories from the list."),
    "A withdrawn body cannot be accredited again": _l("A withdrawn body cannot be accredited again."),
    "The body is already withdrawn": _l("The body is already withdrawn."),
    "The body has no active key": _l("The body has no signing key in force."),
    "A withdrawn body's keys cannot be rotated": _l("A withdrawn body's keys cannot be rotated."),
    "Only the issuing body or the registry operator may change this certificate":
        _l("Only the issuing body or the registry operator may change this certificate."),
    "The registry operator suspended this certificate; only the operator can reinstate it":
        _l("The registry operator suspended this certificate; only the operator can reinstate it."),
    "The client is already disabled": _l("The API client is already disabled."),
    "An item is not a JSON object": _l("This row could not be read."),
    "The request has invalid fields": _l("Some fields have problems: see the message beside each."),
}

PREFIXES = (
    ("Must be one of:", _l("Choose one of the values offered.")),
    ("Must be an RFC 3339 date-time", _l("Enter a date, like 2026-12-31.")),
    ("Must be a plain decimal", _l("Enter a number, like 0.82.")),
    ("Must be a decimal written as a string", _l("Enter a number, like 0.82.")),
    ("Must be a URN or URI naming the manufacturer", _l("Enter the manufacturer's id as a URN, like urn:uscc:91310000MA1FL0007C.")),
    ("Length must be between", _l("The text is too long.")),
    ("Shorter than minimum length", _l("Enter a value: it is required.")),
    ("Longer than maximum length", _l("The text is too long.")),
    ("ISO 3166-1 alpha-2 code", _l("Enter a two-letter country code, like CN.")),
    ("Required for a", _l("Enter a value: it is required for this kind of certificate.")),
    ("Not allowed on a", _l("Leave this empty for this kind of certificate.")),
    ("A reduced-carbon certificate needs at least two", _l("Choose at least two carbon footprint certificates.")),
    ("A carbon-neutral certificate is based on exactly one", _l("Choose exactly one carbon footprint certificate.")),
    ("Give either footprint or basedOn", _l("Enter a footprint or choose a footprint certificate, not both.")),
    ("At most 15 digits", _l("Enter at most 15 digits before the point and 12 after it.")),
    ("Must be given:", _l("Enter this stage: it is inside the system boundary.")),
    ("Must be null:", _l("Leave this stage empty: it is outside the system boundary.")),
    ("callbackUrl:", _l("Enter a public https address for notifications.")),
)

# Rule refusals whose English names values: the values go into the translated message. The
# label of a certificate is "<number> (<id>)"; people know it by its number.
_CERT = r"(?P<%s>\S+) \([^)]*\)"
_N = r"(?P<%s>-?[\d.]+)"
PATTERNS = [(re.compile(pattern), message) for pattern, message in (
    (r"The (?P<what>life-cycle stages|gases) add up to " + _N % "sum" + r", not pcfExcludingBiogenicUptake "
     + _N % "total" + r" \(allowed difference " + _N % "tolerance" + r"\)\.",
     _l("These add up to %(sum)s, not the footprint excluding biogenic uptake of %(total)s (allowed difference "
        "%(tolerance)s). Correct the figures so that they add up.")),
    (r"Category (?P<code>.+) has no low-carbon benchmark; a low-carbon certificate needs one\.",
     _l("Category %(code)s has no low-carbon benchmark, so no low-carbon certificate can be issued for it. "
        "Choose another kind of certificate.")),
    (r"The footprint " + _N % "pcf" + r" kg CO2e per " + _N % "amount" + r" (?P<unit>.+?) \(≈ " + _N % "per_unit"
     + r" per .+?\) exceeds the (?P<code>.+) benchmark of " + _N % "benchmark" + r" kg CO2e per .+\.",
     _l("The footprint, %(per_unit)s kg CO2e per %(unit)s, is above the %(code)s benchmark of %(benchmark)s kg "
        "CO2e per %(unit)s: it does not earn a low-carbon certificate.")),
    (r"Grade (?P<grade>\S+) is not admitted for a low-carbon certificate under (?P<scheme>.+) "
     r"\(admitted: (?P<allowed>.+)\)\.",
     _l("Grade %(grade)s does not earn a low-carbon certificate under %(scheme)s (grades that do: %(allowed)s).")),
    (r"Offset (?P<registry>\S+) (?P<serial>.+) already backs certificate (?P<number>\S+); "
     r"one offset backs one certificate only\.",
     _l("Offset %(registry)s %(serial)s already backs certificate %(number)s; an offset backs one certificate "
        "only.")),
    (r"Must not be before (?P<year>\d+)\.", _l("Enter a year from %(year)s on.")),
    (r"Does not match the category given \((?P<code>.+)\)\.", _l("Choose the product category %(code)s.")),
    (r".+ is already listed at offsets\.(?P<index>\d+); an offset backs one certificate once\.",
     _l("This offset is already listed as offset %(index)s: list each offset once.")),
    (r"The same offset is listed more than once \(.*\)\.", _l("The same offset is listed more than once: list "
                                                               "each offset once.")),
    (r"The retired offsets total " + _N % "total" + r" t CO2e \(" + _N % "kg" + r" kg\), less than the "
     + _N % "emissions" + r" kg CO2e of " + _N % "covered" + r" (?P<unit>.+?) at .+\.",
     _l("The retired offsets total %(total)s t CO2e (%(kg)s kg), less than the %(emissions)s kg CO2e of "
        "%(covered)s %(unit)s covered. Add offsets or cover a smaller quantity.")),
    (r"The offsets \(" + _N % "total" + r" t CO2e\) against " + _N % "emissions"
     + r" kg CO2e meet no carbon-neutral level of (?P<scheme>.+)\.",
     _l("The offsets (%(total)s t CO2e) against %(emissions)s kg CO2e meet no carbon-neutral level of "
        "%(scheme)s.")),
    (r"Certificate " + _CERT % "cert" + r" is listed more than once\.",
     _l("Certificate %(cert)s is chosen more than once: choose each certificate once only.")),
    (r"At least (?P<min>\d+) carbon-footprint certificate\(s\) of the product are needed as a basis; "
     r"(?P<given>\d+) given\.",
     _l("Choose at least %(min)s carbon footprint certificates of the product; %(given)s chosen.")),
    (r"At most (?P<max>\d+) carbon-footprint certificate\(s\) may be the basis; (?P<given>\d+) given\.",
     _l("Choose at most %(max)s carbon footprint certificates; %(given)s chosen.")),
    (r"Certificate " + _CERT % "cert" + r" is a (?P<kind>\S+) certificate; only carbon-footprint certificates "
     r"can be a basis\.",
     _l("Certificate %(cert)s is a %(kind)s certificate; choose carbon footprint certificates only.")),
    (r"Certificate " + _CERT % "cert" + r" is (?P<status>\S+); only active certificates can be a basis\.",
     _l("Certificate %(cert)s is %(status)s; choose valid certificates only.")),
    (r"Certificate " + _CERT % "cert" + r" is not for the product of this request: (?P<what>.+?) differs .*\.",
     _l("Certificate %(cert)s is for another product: its %(what)s differs. Choose certificates of this "
        "product.")),
    (r"Certificates " + _CERT % "cert" + r" and " + _CERT % "other" + r" are not for the same product: "
     r"(?P<what>.+?) differs .*\.",
     _l("Certificates %(cert)s and %(other)s are for different products: the %(what)s differs.")),
    (r"The reference periods of " + _CERT % "cert" + r" \(.+?\) and " + _CERT % "other" + r" \(.+?\) overlap; "
     r"each footprint must cover a different period\.",
     _l("The reference periods of %(cert)s and %(other)s overlap: choose footprints of different periods.")),
    (r"The baseline footprint " + _CERT % "cert" + r" is zero; no reduction can be computed from it\.",
     _l("The earliest footprint, %(cert)s, is zero: no reduction can be computed from it.")),
    (r"The footprint went from " + _N % "before" + r" \(" + r"(?P<cert>\S+) .+?\) to " + _N % "after"
     + r" \((?P<other>\S+) .+?\): a reduction of " + _N % "reduction" + r", below the minimum "
     + _N % "minimum" + r" of (?P<scheme>.+)\.",
     _l("The footprint went from %(before)s (%(cert)s) to %(after)s (%(other)s): a reduction of %(reduction)s, "
        "below the minimum of %(minimum)s under %(scheme)s.")),
    (r"The certification body is (?P<status>\S+)",
     _l("Your certification body is %(status)s: it cannot issue certificates.")),
    (r"The accreditation in force does not cover (?P<kind>\S+) certificates for (?P<code>\S+)",
     _l("Your body's accreditation does not cover %(kind)s certificates for %(code)s.")),
    (r"basedOn names an unknown certificate (?P<cert>.+)", _l("There is no certificate %(cert)s.")),
    (r"Unknown certificate (?P<cert>.+)", _l("There is no certificate %(cert)s.")),
    (r"Unknown product category (?P<code>.+)", _l("Choose a product category from the list.")),
    (r"Unknown category: (?P<code>.+)", _l("There is no product category %(code)s.")),
    (r"Body code (?P<code>.+) is taken", _l("The body code %(code)s is taken: choose another.")),
    (r"The body is (?P<status>\S+), not active", _l("The body is %(status)s, not active.")),
    (r"The body is (?P<status>\S+), not suspended", _l("The body is %(status)s, not suspended.")),
    (r"The certificates this one rests on are not active: (?P<names>.+); only a correction \(supersedes\) "
     r"can replace it",
     _l("The certificates this one rests on are not valid (%(names)s): issue a correction instead.")),
    (r"A (?P<status>\S+) certificate cannot be (?P<target>\S+)( \(revocation is final\))?",
     _l("A %(status)s certificate cannot be %(target)s.")),
    (r"No (?:certification body|certificate|client|procurement client|subscription) .+",
     _l("Nothing was found under that id.")),
    (r"items must be a list of 1 to (?P<max>\d+) issuance requests", _l("Send 1 to %(max)s certificates.")),
    (r"Send 1 to (?P<max>\d+) items\.", _l("Send 1 to %(max)s certificates.")),
)]

#: A refusal known by its problem type alone, when its message names nothing more.
TYPES = {
    "idempotency-key-reused": _l("This form was already used for another certificate. Start a new one."),
    "not-accredited": _l("Your certification body holds no accreditation in force: it cannot issue certificates."),
    "out-of-scope": _l("Your body's accreditation does not cover this kind of certificate for this category."),
    "insufficient-baseline": _l("The certificates chosen as a basis do not fit: check them."),
    "reduction-below-minimum": _l("The reduction is below the minimum of the grading scheme."),
    "benchmark-missing": _l("This category has no low-carbon benchmark."),
    "benchmark-not-met": _l("The footprint does not earn a low-carbon certificate."),
    "insufficient-offsets": _l("The offsets do not cover the emissions."),
    "offset-already-used": _l("An offset already backs another certificate; an offset backs one certificate only."),
    "duplicate-offset": _l("The same offset is listed more than once: list each offset once."),
    "certificate-not-found": _l("There is no such certificate."),
    "not-your-certificate": _l("Only the issuing body or the registry operator may change this certificate."),
    "suspended-by-operator": _l("The registry operator suspended this certificate; only the operator can "
                                "reinstate it."),
    "basis-not-active": _l("The certificates this one rests on are not valid: issue a correction instead."),
    "invalid-transition": _l("The certificate or body is not in a state that allows this change."),
    "body-withdrawn": _l("The body is withdrawn: this cannot be done any more."),
    "body-code-taken": _l("That body code is taken: choose another."),
    "no-active-key": _l("The body has no signing key in force."),
    "body-not-found": _l("There is no such certification body."),
    "client-not-found": _l("There is no such API client."),
}

#: Values named in refusals, in the reader's words.
WHAT = {"manufacturer id": _l("manufacturer id"), "category": _l("product category"),
        "declared unit of measurement": _l("declared unit"), "declared unit amount": _l("amount of the declared unit"),
        "system boundary": _l("system boundary"), "GTIN": _l("GTIN"),
        "life-cycle stages": _l("life-cycle stages"), "gases": _l("gases")}
TARGETS = {"suspended": _l("suspended"), "revoked": _l("revoked"), "active": _l("reinstated")}
STATES = {"active": _l("valid"), "suspended": _l("suspended"), "revoked": _l("revoked"), "expired": _l("expired"),
          "withdrawn": _l("withdrawn")}


def _values(found: re.Match) -> dict[str, str]:
    from .filters import KIND_NAMES, UNIT_NAMES

    values = {k: v or "" for k, v in found.groupdict().items()}
    names = {"what": WHAT, "unit": UNIT_NAMES, "kind": KIND_NAMES, "status": STATES, "target": TARGETS}
    for key, table in names.items():
        if key in values:
            values[key] = str(table.get(values[key], values[key]))
    if "index" in values:
        values["index"] = str(int(values["index"]) + 1)
    if "scheme" in values:
        values["scheme"] = scheme_name(values["scheme"])
    return values


def scheme_name(text: str) -> str:
    """``cn-carbon-label v1`` as the scheme's name in the reader's language and its version."""
    from verifier import grading

    from .filters import lang

    scheme_id, _sep, version = text.rpartition(" v")
    try:
        scheme = grading.load_scheme(scheme_id, version)
    except Exception:  # noqa: BLE001  (an unknown scheme is named as the rule wrote it)
        return text
    name = scheme.get("nameZh") if lang() == "zh" and scheme.get("nameZh") else scheme.get("name", scheme_id)
    return str(_l("%(name)s, version %(version)s", name=name, version=version))


def translate(message: str, type: str | None = None) -> str:
    """``message`` in the reader's language: exact, by pattern, by prefix, by problem ``type``."""
    text = str(message)
    found = EXACT.get(text)
    if found is not None:
        return str(found)
    for pattern, translated in PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return str(translated) % _values(match)
    for prefix, translated in PREFIXES:
        if text.startswith(prefix):
            return str(translated)
    if type in TYPES:
        return str(TYPES[type])
    return text


def translate_errors(errors: dict[str, list], type: str | None = None) -> dict[str, list[str]]:
    return {field: [translate(m, type) for m in messages] for field, messages in errors.items()}
