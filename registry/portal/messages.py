"""The API's English rule and schema messages in the reader's language.

The schemas and services speak English to API clients; people read the same messages through
this table (exact messages, then by the start of a message whose end names values). A message
the table does not know is shown as it is.
"""

from __future__ import annotations

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
}

PREFIXES = (
    ("Must be one of:", _l("Choose one of the values offered.")),
    ("Must be an RFC 3339 date-time", _l("Enter a date, like 2026-12-31.")),
    ("Must be a plain decimal", _l("Enter a number, like 0.82.")),
    ("Must be a decimal written as a string", _l("Enter a number, like 0.82.")),
    ("Must be a URN or URI naming the manufacturer", _l("Enter the manufacturer's id as a URN, like urn:uscc:91310000XXXXXXXXXX.")),
    ("Length must be between", _l("The text is too long.")),
    ("Required for a", _l("Enter a value: it is required for this kind of certificate.")),
    ("Not allowed on a", _l("Leave this empty for this kind of certificate.")),
    ("A reduced-carbon certificate needs at least two", _l("Choose at least two carbon footprint certificates.")),
    ("A carbon-neutral certificate is based on exactly one", _l("Choose exactly one carbon footprint certificate.")),
    ("Give either footprint or basedOn", _l("Enter a footprint or choose a footprint certificate, not both.")),
    ("At most 15 digits", _l("Enter at most 15 digits before the point and 12 after it.")),
    ("Must be given:", _l("Enter this stage: it is inside the system boundary.")),
)


def translate(message: str) -> str:
    text = str(message)
    found = EXACT.get(text)
    if found is not None:
        return str(found)
    for prefix, translated in PREFIXES:
        if text.startswith(prefix):
            return str(translated)
    return text


def translate_errors(errors: dict[str, list]) -> dict[str, list[str]]:
    return {field: [translate(m) for m in messages] for field, messages in errors.items()}
