"""Graded QR carbon labels: SVG, PNG and PDF from a certificate's signed credential.

A pure renderer: it takes plain data (a decoded credential payload, its compact JWS and the
issuer's display name) and never touches keys, Flask or the database. See docs/labels.md.

Public API::

    label_data_from_credential(payload, *, compact_jws, issuer_name, issuer_name_zh,
                               verify_url, digital_link_url=None) -> LabelData
    render_label(data, *, fmt="svg"|"png"|"pdf", lang="zh"|"en"|"zh-en",
                 mode="link"|"offline", width_mm=None, dpi=300, variant="standard"|"compact",
                 colour="colour"|"mono", print_="rgb"|"cmyk", bleed_mm=0, crops=False) -> RenderedLabel
    warnings_for(data, *, lang, mode, width_mm, variant, colour) -> [{"severity", "message"}]
    render_sheet(items, *, lang, mode, width_mm=None, ...) -> bytes   # A4 PDF
    render_archive(items, *, formats=("svg", "png", "pdf"), lang, mode) -> bytes  # ZIP
"""

from ._bulk import archive_names, render_archive, render_sheet
from ._data import GRADES, KINDS, LabelData, LabelError, gs1_digital_link, label_data_from_credential
from ._render import (
    DPI_STEPS,
    FORMATS,
    LANGS,
    MAX_PIXELS,
    MAX_QR_VERSION,
    MEDIA_TYPES,
    MODES,
    RenderedLabel,
    clear_caches,
    label_size_mm,
    qr_segments,
    check_pixels,
    quantise_dpi,
    quantise_width,
    render_label,
    COLOURS,
    PRINTS,
    check_options,
    check_print,
    VARIANTS,
    warnings_for,
)

__all__ = [
    "COLOURS", "PRINTS", "VARIANTS", "check_options", "check_print", "warnings_for",
    "DPI_STEPS", "MAX_PIXELS", "check_pixels", "quantise_dpi", "quantise_width",
    "FORMATS", "GRADES", "KINDS", "LANGS", "MAX_QR_VERSION", "MEDIA_TYPES", "MODES",
    "LabelData", "LabelError", "RenderedLabel",
    "archive_names", "clear_caches", "gs1_digital_link", "label_data_from_credential",
    "label_size_mm", "qr_segments", "render_archive", "render_label", "render_sheet",
]
