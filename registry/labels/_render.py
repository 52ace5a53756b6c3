"""SVG labels from the Jinja2 templates in ``label_templates/``, and PNG/PDF from the SVG."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from verifier.offline import OfflineFormatError, offline_url

from . import _qr, _raster
from ._data import LabelData, LabelError
from ._text import accessible, get_font

__all__ = ["RenderedLabel", "render_label", "render_svg", "label_size_mm", "clear_caches",
           "TEMPLATE_DIR", "FORMATS", "LANGS", "MODES", "MAX_QR_VERSION", "MEDIA_TYPES",
           "DPI_STEPS", "MAX_PIXELS", "quantise_width", "quantise_dpi", "check_pixels",
           "VARIANTS", "COLOURS", "PRINTS", "warnings_for", "check_options", "check_print"]

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "label_templates"
FORMATS = ("svg", "png", "pdf")
LANGS = ("zh", "en", "zh-en")
MODES = ("link", "offline")
VARIANTS = ("standard", "compact")
COLOURS = ("colour", "mono")
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
#: The densest QR code labels use (small packaging scans version 22 reliably; PERF-NOTES.md).
MAX_QR_VERSION = 22
QUIET_ZONE = 4  # modules, each side (ISO/IEC 18004 minimum)
#: Resolutions a PNG is rendered at; other requests snap to the nearest (one cache key each).
DPI_STEPS = (72, 150, 300, 600)
#: The largest PNG raster (pixels): 8 Mpx is 32 MB of RGBA and about a second of resvg.
#: A 300 mm wide link label at 1,200 dpi would be 185 Mpx (2.3 GB, > 30 s): refused.
MAX_PIXELS = 8_000_000
#: Fixed PDF dates so that the same label gives the same bytes.
PDF_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)

UNITS = {  # PACT declaredUnitOfMeasurement → (zh, en singular, en plural)
    "kilogram": ("千克", "kilogram", "kilograms"),
    "liter": ("升", "liter", "liters"),
    "cubic meter": ("立方米", "cubic meter", "cubic meters"),
    "kilowatt hour": ("千瓦时", "kilowatt hour", "kilowatt hours"),
    "megajoule": ("兆焦", "megajoule", "megajoules"),
    "ton kilometer": ("吨公里", "ton kilometer", "ton kilometers"),
    "square meter": ("平方米", "square meter", "square meters"),
    "piece": ("件", "piece", "pieces"),
    "tonne": ("吨", "tonne", "tonnes"),
    "meter": ("米", "meter", "meters"),
}


@dataclass
class RenderedLabel:
    """A rendered label: the file's bytes and what a caller should know about it."""

    content: bytes
    media_type: str
    warnings: list[str]
    qr_version: int
    qr_payload: str
    width_mm: float = 0.0
    height_mm: float = 0.0


@dataclass(frozen=True)
class TextBox:
    """Where a run of text was drawn (user units; y is the baseline): for tests and tools."""

    text: str
    x: float
    y: float
    size: float
    width: float


@dataclass
class _Rendered:
    svg: str
    width_mm: float
    height_mm: float
    qr: _qr.QRMatrix
    qr_payload: str
    warnings: list[str]
    texts: list[TextBox] = field(default_factory=list)
    viewbox: tuple[float, float] = (0.0, 0.0)
    qr_box: tuple[float, float, float] = (0.0, 0.0, 0.0)  # x, y, side incl. quiet zone
    runs: dict = field(default_factory=dict)  # text element markup → text


def _n(v: float) -> str:
    """A coordinate: at most 2 decimals, no trailing zeros (deterministic)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


class _Drawn:
    """Markup plus the geometry a template needs to place what follows it."""

    def __init__(self, markup: str, width: float = 0.0, size: float = 0.0):
        self.markup = markup
        self.width = width
        self.size = size

    def __html__(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


@lru_cache(maxsize=1)
def _designs() -> dict:
    return json.loads((TEMPLATE_DIR / "designs.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def _strings() -> dict:
    return json.loads((TEMPLATE_DIR / "strings.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    env.filters["n"] = _n
    return env


class _Ctx:
    """Per-render helpers the templates call: text runs as outlines, bilingual pairs, QR."""

    def __init__(self, lang: str, unit_mm: float):
        self.lang = lang
        self.font = get_font()
        self.texts: list[TextBox] = []
        self.missing: set[str] = set()
        self.shortened: list[str] = []
        self.min_size = None
        self.unit_mm = unit_mm
        self.qr_info = None
        self.runs: dict[str, str] = {}  # text element markup → its text (for glyph rasters)

    def T(self, key: str, **fmt) -> dict:
        entry = _strings()[key]
        return {k: v.format(**fmt) if fmt else v for k, v in entry.items()}

    def text(self, s: str, x: float, y: float, size: float, *, anchor: str = "start",
             max_width: float | None = None, min_size: float | None = None,
             fill: str = "#102a12", bold: bool = False, opacity: float | None = None) -> _Drawn:
        s = "" if s is None else str(s)
        if not s.strip():
            return _Drawn("", 0.0, size)
        font = self.font
        fitted, size = font.fit(s, size, max_width, min_size)
        if fitted != s:
            self.shortened.append(s)
        s = fitted
        run = font.run(s)
        self.missing.update(run.missing)
        k = size / font.upem
        width = run.width * k
        if anchor == "middle":
            x -= width / 2
        elif anchor == "end":
            x -= width
        if self.min_size is None or size < self.min_size:
            self.min_size = size
        self.texts.append(TextBox(s, x, y, size, width))
        attrs = f' fill="{fill}"'
        if bold:
            attrs += (f' stroke="{fill}" stroke-width="{_n(font.upem * 0.04)}"'
                      ' stroke-linejoin="round"')
        if opacity is not None:  # not group opacity: resvg would composite a whole layer
            attrs += f' fill-opacity="{_n(opacity)}"'
            if bold:
                attrs += f' stroke-opacity="{_n(opacity)}"'
        markup = (f'<path aria-label="{escape(accessible(s))}" '
                  f'transform="matrix({k:.6g} 0 0 {k:.6g} {_n(x)} {_n(y)})"{attrs} '
                  f'd="{run.d}"/>')
        self.runs[markup] = s
        return _Drawn(markup, width, size)

    def pair(self, zh: str | None, en: str | None, x: float, y: float, size: float, *,
             en_scale: float = 0.62, gap: float = 0.95, anchor: str = "start",
             max_width: float | None = None, min_size: float | None = None,
             fill: str = "#102a12", en_fill: str | None = None, bold: bool = False,
             single_scale: float = 1.0) -> _Drawn:
        """Chinese over English (``zh-en``), or one of them, centred on the same slot."""
        en_fill = en_fill or fill
        en_size = size * en_scale
        if self.lang == "zh-en" and zh and en:
            a = self.text(zh, x, y, size, anchor=anchor, max_width=max_width,
                          min_size=min_size, fill=fill, bold=bold)
            b = self.text(en, x, y + size * gap * 0.5 + en_size * 0.9, en_size, anchor=anchor,
                          max_width=max_width,
                          min_size=None if min_size is None else min_size * en_scale,
                          fill=en_fill)
            return _Drawn(a.markup + b.markup, max(a.width, b.width), size)
        s = zh if (self.lang != "en" and zh) else en
        one = size * single_scale
        dy = (size * gap * 0.5 + en_size * 0.9) * 0.45
        return self.text(s, x, y + dy, one, anchor=anchor, max_width=max_width,
                         min_size=min_size, fill=fill, bold=bold)

    def line(self, zh: str | None, en: str | None, x: float, y: float, size: float, *,
             en_scale: float = 0.82, sep: float = 0.45, anchor: str = "start",
             fill: str = "#102a12", en_fill: str | None = None,
             max_width: float | None = None, bold: bool = False) -> _Drawn:
        """Chinese and English on one line (``zh-en``), or one of them."""
        if self.lang == "zh-en" and zh and en:
            font = self.font
            en_size = size * en_scale
            total = (font.width(zh) * size + font.width(en) * en_size) / font.upem + sep * size
            k = 1.0
            if max_width is not None and total > max_width:
                k = max(max_width / total, 0.7)
            total *= k
            x0 = x - total / 2 if anchor == "middle" else x - total if anchor == "end" else x
            a = self.text(zh, x0, y, size * k, fill=fill, bold=bold)
            b = self.text(en, x0 + a.width + sep * size * k, y, en_size * k,
                          fill=en_fill or fill,
                          max_width=None if max_width is None else max_width - a.width - sep * size * k)
            return _Drawn(a.markup + b.markup, total, size)
        s = zh if (self.lang != "en" and zh) else en
        return self.text(s, x, y, size, anchor=anchor, fill=fill, max_width=max_width,
                         bold=bold)

    def qr(self, x: float, y: float, side: float) -> Markup:
        """The QR code with its quiet zone in a white square of ``side`` units at (x, y)."""
        matrix = self.qr_matrix
        modules = matrix.size + 2 * QUIET_ZONE
        m = side / modules
        self.qr_info = (x, y, side, m)
        path = _qr.svg_path(matrix, QUIET_ZONE)
        return Markup(
            f'<g aria-hidden="true"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(side)}" '
            f'height="{_n(side)}" fill="#ffffff"/>'
            f'<path transform="matrix({m:.6g} 0 0 {m:.6g} {_n(x)} {_n(y)})" fill="#000000" '
            f'shape-rendering="crispEdges" d="{path}"/></g>')


def _star_path(cx: float, cy: float, r: float) -> str:
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.45
        a = math.pi * (i / 5 - 0.5)
        pts.append(f"{_n(cx + rad * math.cos(a))} {_n(cy + rad * math.sin(a))}")
    return "M" + "L".join(pts) + "Z"


def _unit_words(data: LabelData, amount: str) -> tuple[str, str]:
    zh, en1, en_n = UNITS.get(data.declared_unit, (data.declared_unit,) * 3)
    return zh, (en1 if Decimal(amount) == 1 else en_n)


def _percent(fraction: str, places: str = "0.01") -> str:
    value = (Decimal(fraction) * 100).quantize(Decimal(places), rounding=ROUND_HALF_EVEN)
    return format(value, "f")


def _share(fraction: str) -> str:
    """A 0–1 share as a percentage without needless decimals: 1 → "100", 0.605 → "60.5"."""
    value = (Decimal(fraction) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return format(value.normalize(), "f")


def _view(data: LabelData) -> dict:
    """Display strings for a label, derived only from LabelData."""
    unit_zh, unit_en = _unit_words(data, data.declared_amount)
    amount = format(Decimal(data.declared_amount).normalize(), "f")
    v = {
        "per": {"zh": f"每 {amount} {unit_zh}", "en": f"per {amount} {unit_en}"},
        "product_zh": data.product_name_zh or data.product_name,
        "product_en": data.product_name,
        "issuer_zh": data.issuer_name_zh or data.issuer_name,
        "issuer_en": data.issuer_name,
        "issuer_both": bool(data.issuer_name_zh) and data.issuer_name_zh != data.issuer_name,
    }
    if data.reduction is not None:
        v["reduction_pct"] = "\u2212" + _percent(data.reduction) + " %"
    if data.renewable_share is not None:
        v["renewable_pct"] = _share(data.renewable_share) + " %"
        v["removal_pct"] = _share(data.removal_share or "0") + " %"
        cq_zh, cq_en = _unit_words(data, data.covered_quantity or "1")
        v["covered"] = {"zh": f"{data.covered_quantity} {cq_zh}",
                        "en": f"{data.covered_quantity} {cq_en}"}
    return v


def _summary(data: LabelData, lang: str, ctx: _Ctx) -> tuple[str, str]:
    title = ctx.T(f"title.{data.kind}")
    t = {"zh": f"{title['zh']}标识 {data.certificate_number}",
         "en": f"{title['en']} label {data.certificate_number}"}
    heading = t["zh"] + " / " + t["en"] if lang == "zh-en" else t["zh" if lang == "zh" else "en"]
    seen = []
    for box in ctx.texts:
        s = accessible(box.text)
        if s not in seen:
            seen.append(s)
    return heading, " · ".join(seen)


def _viewbox(kind: str, mode: str, variant: str) -> tuple[int, int]:
    d = _designs()
    if variant == "compact":
        return d["compact"]["width"], d["compact"]["height"]
    return d["width"] + (d["offline_panel"] if mode == "offline" else 0), d["kinds"][kind]["height"]


def label_size_mm(kind: str, mode: str, width_mm: float | None = None,
                  variant: str = "standard") -> tuple[float, float]:
    """Printed (width, height) in mm of a ``kind`` label in ``mode`` (default width if None)."""
    d = _designs()
    if variant == "compact":
        default = d["compact"]["default_width_mm"]
    else:
        default = d["kinds"][kind]["default_width_mm"][mode]
    vw, vh = _viewbox(kind, mode, variant)
    w = float(width_mm if width_mm is not None else default)
    return w, w * vh / vw


def quantise_width(width_mm) -> int | None:
    """A printed width in whole millimetres (half up), so every request maps to few sizes."""
    if width_mm is None:
        return None
    return int(Decimal(str(float(width_mm))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def quantise_dpi(dpi) -> int:
    """The step of :data:`DPI_STEPS` nearest to ``dpi`` (the lower one on a tie)."""
    dpi = float(dpi)
    return min(DPI_STEPS, key=lambda step: (abs(step - dpi), step))


def png_pixels(w_mm: float, h_mm: float, dpi: float) -> tuple[int, int]:
    """The raster size resvg makes of a ``w_mm`` × ``h_mm`` SVG at ``dpi``."""
    return max(1, math.ceil(w_mm * dpi / 25.4)), max(1, math.ceil(h_mm * dpi / 25.4))


def check_pixels(w_mm: float, h_mm: float, dpi: float) -> None:
    """Refuse a raster above :data:`MAX_PIXELS` before any memory is spent on it."""
    px, py = png_pixels(w_mm, h_mm, dpi)
    if px * py > MAX_PIXELS:
        largest = math.floor(25.4 * math.sqrt(MAX_PIXELS * w_mm / h_mm) / dpi) if h_mm else 0
        raise LabelError(
            f"a {w_mm:g} × {h_mm:g} mm PNG at {dpi:g} dpi would be {px} × {py} pixels, above the "
            f"limit of {MAX_PIXELS:,} pixels; at {dpi:g} dpi a PNG can be at most {largest} mm wide. "
            "Use a lower dpi, or the PDF or SVG (vectors, any size)",
            type="label-too-large", title="Label too large",
            extra={"pixels": px * py, "maxPixels": MAX_PIXELS, "maxWidthMm": largest})


def _check_options(fmt: str, lang: str, mode: str, width_mm, dpi) -> None:
    if fmt not in FORMATS:
        raise LabelError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if lang not in LANGS:
        raise LabelError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    if mode not in MODES:
        raise LabelError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if width_mm is not None and not (10 <= float(width_mm) <= 1000):
        raise LabelError("width_mm must be between 10 and 1000")
    if not (30 <= int(dpi) <= 2400):
        raise LabelError("dpi must be between 30 and 2400")


def qr_segments(data: LabelData, mode: str) -> tuple[tuple[str, str], ...]:
    """The QR segments of a label: one byte segment (link), or the URL prefix as bytes and the
    credential digits as a numeric segment (offline)."""
    if mode == "link":
        return (("byte", data.digital_link_url or data.verify_url),)
    try:
        text = offline_url(data.verify_url, data.compact_jws)
    except OfflineFormatError as err:
        raise LabelError(f"cannot pack this credential for an offline label: {err}") from err
    prefix, digits = text.split("#", 1)
    return (("byte", prefix + "#"), ("numeric", digits))


_COLOUR_ATTR = re.compile(r'((?:fill|stroke)=")#([0-9a-fA-F]{6})"')
_OPACITY_ATTR = re.compile(r' (?:fill|stroke)-opacity="[^"]*"')


def _to_mono(svg: str) -> str:
    """Every colour to black or white (paper), no translucency: for one-colour printing."""
    def one(m):
        r, g, b = (int(m.group(2)[i:i + 2], 16) / 255 for i in (0, 2, 4))
        return m.group(1) + ("#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.6 else "#ffffff") + '"'

    return _OPACITY_ATTR.sub("", _COLOUR_ATTR.sub(one, svg))


def _check_variant(variant: str, colour: str, mode: str, width_mm) -> None:
    if variant not in VARIANTS:
        raise LabelError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if colour not in COLOURS:
        raise LabelError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
    if variant == "compact":
        if mode != "link":
            raise LabelError("the compact variant carries a link code only: use mode=link "
                             "(an offline code needs a larger label)", type="label-too-small")
        least = _designs()["compact"]["min_width_mm"]
        if width_mm is not None and float(width_mm) < least:
            raise LabelError(f"the compact variant is at least {least} mm wide", type="label-too-small",
                             title="Label too small", extra={"minWidthMm": least})


@lru_cache(maxsize=256)
def render_svg(data: LabelData, lang: str = "zh-en", mode: str = "link",
               width_mm: float | None = None, variant: str = "standard",
               colour: str = "colour") -> _Rendered:
    """Render the SVG of a label (cached: an LRU of 256 by arguments).

    Raises:
        LabelError: for bad options, an offline code above the version limit, or a size at
            which some text would be below ``min_text_mm_hard`` (type ``label-too-small``).
    """
    _check_options("svg", lang, mode, width_mm, 300)
    _check_variant(variant, colour, mode, width_mm)
    d = _designs()
    design = d["kinds"][data.kind]
    segments = qr_segments(data, mode)
    try:
        matrix = _qr.encode(segments, ec="M", max_version=MAX_QR_VERSION)
    except _qr.QRTooLarge as err:
        raise LabelError(
            f"the {mode} QR code for certificate {data.certificate_number} needs version "
            f"{err.needed_version or '> 40'}, above the limit of {MAX_QR_VERSION}; "
            "use mode=link", extra={"neededVersion": err.needed_version}) from err
    w_mm, h_mm = label_size_mm(data.kind, mode, width_mm, variant)
    vw, vh = _viewbox(data.kind, mode, variant)
    unit_mm = w_mm / vw
    ctx = _Ctx(lang, unit_mm)
    ctx.qr_matrix = matrix
    view = _view(data)
    name = "compact" if variant == "compact" else data.kind
    template = _env().get_template(f"{name}.svg.j2")
    palette = design.get("palette") or d["palette"][data.kind]
    grades = d["grades"]
    if colour == "mono":
        palette, grades = d["palette_mono"], d["grades_mono"]
    params = dict(
        d=data, v=view, lang=lang, mode=mode, W=d["width"], VW=vw, H=vh, P=palette,
        G=grades, T=ctx.T, text=ctx.text, pair=ctx.pair, line=ctx.line, qr=ctx.qr,
        width_mm=_n(w_mm), height_mm=_n(h_mm), uid=data.certificate_id[:8],
        STRINGS=_strings(), star_path=_star_path, C=d["compact"],
    )
    body = template.render(**params)
    if colour == "mono":
        body = _to_mono(body)
        ctx.runs = {_to_mono(k): v for k, v in ctx.runs.items()}
    # The accessible title and description list every text the template drew, so they are
    # filled in after rendering.
    heading, desc = _summary(data, lang, ctx)
    svg = body.replace("@@TITLE@@", str(escape(heading)), 1).replace(
        "@@DESC@@", str(escape(desc)), 1)
    warnings = []
    if ctx.qr_info is None:
        raise LabelError(f"template {data.kind}.svg.j2 did not place the QR code")
    x, y, side, m = ctx.qr_info
    module_mm = m * unit_mm
    least_module = d["min_offline_module_mm"]
    if mode == "offline" and module_mm < least_module - 1e-9:
        least = math.ceil(w_mm * least_module / module_mm - 1e-9)
        raise LabelError(
            f"the offline code is too dense for this size: at {w_mm:g} mm wide its modules are "
            f"{module_mm:.3f} mm, below the {least_module} mm measured to scan from a phone photo "
            f"(version {matrix.version}); make it at least {least} mm wide, or use mode=link",
            type="label-too-small", title="Label too small",
            extra={"moduleMm": round(module_mm, 3), "minWidthMm": least, "qrVersion": matrix.version})
    if module_mm < d["min_module_mm"] - 1e-9:
        warnings.append(f"QR module {module_mm:.2f} mm is below {d['min_module_mm']:.2f} mm; "
                        "scanning may be unreliable")
    hard = d["min_text_mm_hard"]
    if ctx.min_size is not None and ctx.min_size * unit_mm < hard - 1e-9:
        smallest = ctx.min_size * unit_mm
        least = math.ceil(w_mm * hard / smallest - 1e-9)
        hint = "" if variant == "compact" else "; for small packs use variant=compact (15 mm and up)"
        raise LabelError(
            f"at {w_mm:g} mm wide the smallest text on this label would be {smallest:.2f} mm high, below "
            f"the minimum of {hard} mm; make it at least {least} mm wide{hint}",
            type="label-too-small", title="Label too small",
            extra={"smallestTextMm": round(smallest, 2), "minWidthMm": least})
    if ctx.min_size is not None and ctx.min_size * unit_mm < d["min_text_mm"] - 1e-9:
        warnings.append(f"smallest text is {ctx.min_size * unit_mm:.2f} mm (em) high, below "
                        f"{d['min_text_mm']:.2f} mm; it may be hard to read")
    for text in ctx.shortened:
        warnings.append(f"text shortened to fit: {text!r}")
    if ctx.missing:
        chars = ", ".join(f"U+{ord(c):04X}" for c in sorted(ctx.missing))
        warnings.append(f"the label font has no glyph for {chars}")
    return _Rendered(svg=svg, width_mm=w_mm, height_mm=h_mm, qr=matrix,
                     qr_payload=matrix.text, warnings=warnings, texts=ctx.texts,
                     viewbox=(vw, vh), qr_box=(x, y, side), runs=ctx.runs)


# ---------------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _with_phys(png: bytes, dpi: float) -> bytes:
    """Insert (or replace) the pHYs chunk so the PNG states its resolution."""
    ppm = round(dpi / 0.0254)
    phys = _png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
    out = [png[:8]]
    pos = 8
    inserted = False
    while pos < len(png):
        length = struct.unpack(">I", png[pos:pos + 4])[0]
        kind = png[pos + 4:pos + 8]
        chunk = png[pos:pos + 12 + length]
        pos += 12 + length
        if kind == b"pHYs":
            continue
        if kind == b"IDAT" and not inserted:
            out.append(phys)
            inserted = True
        out.append(chunk)
    return b"".join(out)


def svg_to_png(svg: str, dpi: float, w_mm: float, h_mm: float) -> bytes:
    """Rasterise an SVG whose size is in mm at ``dpi`` (resvg), with pHYs set.

    Raises:
        LabelError: (``label-too-large``) if the raster would exceed :data:`MAX_PIXELS`.
    """
    import resvg_py

    check_pixels(w_mm, h_mm, dpi)

    png = resvg_py.svg_to_bytes(svg_string=svg, dpi=float(dpi), skip_system_fonts=True,
                                background="#ffffff")
    return _with_phys(bytes(png), dpi)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

_NOT_FOR_PDF = re.compile(r"<title\b[^>]*>.*?</title>|<desc\b[^>]*>.*?</desc>", re.S)


def pdf_document(title: str):
    from fpdf import FPDF

    pdf = FPDF(unit="mm")
    pdf.set_creation_date(PDF_DATE)
    pdf.set_producer("carbon-label-registry")
    pdf.set_creator("carbon-label-registry labels")
    pdf.set_title(title)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    return pdf


def draw_svg(pdf, svg: str, x: float, y: float, w: float, h: float) -> None:
    """Draw a label SVG as vectors on the current fpdf2 page."""
    pdf.image(io.BytesIO(_NOT_FOR_PDF.sub("", svg).encode("utf-8")), x=x, y=y, w=w, h=h)


def pdf_bytes(pdf) -> bytes:
    return bytes(pdf.output())


def layer_for(r: _Rendered, kind: str, options: tuple):
    """(split, own elements, layer id, static elements) for drawing over the design's static
    layer, or None to draw the label whole."""
    from . import _layers

    found = _layers.layered(kind, options, r.svg)
    if found is None:
        return None
    split, own, layer_id = found
    return split, own, layer_id, _layers.static_elements(kind, options)


PRINTS = ("rgb", "cmyk")
#: Crop marks: how long each is, and their distance from the trim when there is no bleed.
CROP_MARK_MM = 5.0
CROP_GAP_MM = 2.0


def pdf_colour(colour: str, print_: str):
    """The PDF colour function: CMYK for printers, grey for one colour on screen, else RGB."""
    from ._pdf import cmyk_ops, mono_ops, rgb_ops

    if print_ == "cmyk":
        return cmyk_ops
    return mono_ops if colour == "mono" else rgb_ops


def crop_marks(x0: float, y0: float, x1: float, y1: float, gap: float, length: float, colour) -> str:
    """Crop marks (points) at the corners of the trim box (x0, y0)–(x1, y1), in registration
    colour: each mark starts ``gap`` outside the trim and runs ``length`` outwards."""
    from ._pdf import cmyk_ops, f

    registration = "1 1 1 1 K" if colour is cmyk_ops else colour("#000000", True)  # on every plate
    ops = ["q 0.25 w", registration]
    for x, sx in ((x0, -1), (x1, 1)):
        for y, sy in ((y0, -1), (y1, 1)):
            ops.append(f"{f(x + sx * gap)} {f(y)} m {f(x + sx * (gap + length))} {f(y)} l S")
            ops.append(f"{f(x)} {f(y + sy * gap)} m {f(x)} {f(y + sy * (gap + length))} l S")
    ops.append("Q")
    return "\n".join(ops)


def pdf_label(r: _Rendered, kind: str, options: tuple, title: str, *, print_: str = "rgb",
              bleed_mm: float = 0.0, crops: bool = False) -> bytes:
    """One label as a one-page PDF (vectors; see ``_pdf``). With a bleed the page grows by it on
    every side (BleedBox) around the label (TrimBox); crop marks need room outside the bleed."""
    from ._pdf import PT_PER_MM, PdfDoc

    colour = options[4] if len(options) > 4 else "colour"
    fn = pdf_colour(colour, print_)
    doc = PdfDoc(title=title, colour=fn)
    w_pt, h_pt = r.width_mm * PT_PER_MM, r.height_mm * PT_PER_MM
    bleed = bleed_mm * PT_PER_MM
    gap = max(bleed_mm, CROP_GAP_MM) * PT_PER_MM
    margin = gap + (CROP_MARK_MM + 1) * PT_PER_MM if crops else bleed
    page_w, page_h = w_pt + 2 * margin, h_pt + 2 * margin
    ops = []
    boxes = {}
    if bleed or crops:
        boxes = {"TrimBox": (margin, margin, margin + w_pt, margin + h_pt),
                 "BleedBox": (margin - bleed, margin - bleed, margin + w_pt + bleed, margin + h_pt + bleed)}
        # The design keeps ink inside the trim (the frame is inset), so the bleed is paper white.
        ops.append(f"q {fn('#ffffff', False)} {margin - bleed:.3f} {margin - bleed:.3f} "
                   f"{w_pt + 2 * bleed:.3f} {h_pt + 2 * bleed:.3f} re f Q")
    ops.append(doc.label_ops(r, margin, margin + h_pt, w_pt, layer=layer_for(r, kind, options)))
    if crops:
        ops.append(crop_marks(margin, margin, margin + w_pt, margin + h_pt, gap, CROP_MARK_MM * PT_PER_MM, fn))
    doc.add_page(page_w, page_h, "\n".join(ops), boxes=boxes)
    return doc.output()


def svg_to_pdf(svg: str, w_mm: float, h_mm: float, title: str) -> bytes:
    """The label SVG drawn by fpdf2's SVG support (kept as the benchmarks' baseline)."""
    pdf = pdf_document(title)
    pdf.add_page(format=(w_mm, h_mm))
    draw_svg(pdf, svg, 0, 0, w_mm, h_mm)
    return pdf_bytes(pdf)


def _qr_image(matrix: _qr.QRMatrix, side_px: int):
    """The code and its quiet zone, ``side_px`` square, modules snapped to whole pixels."""
    from PIL import Image

    n = matrix.size + 2 * QUIET_ZONE
    raw = bytearray(b"\xff" * (n * n))
    for r, row in enumerate(matrix.rows):
        base = (r + QUIET_ZONE) * n + QUIET_ZONE
        for c in range(matrix.size):
            if row >> c & 1:
                raw[base + c] = 0
    return Image.frombytes("L", (n, n), bytes(raw)).resize((side_px, side_px), Image.Resampling.NEAREST)


@lru_cache(maxsize=64)
def _render_cached(data: LabelData, fmt: str, lang: str, mode: str, width_mm, dpi: int, variant: str,
                   colour: str, print_: str, bleed_mm: float, crops: bool):
    options = (lang, mode, width_mm, variant, colour)
    r = render_svg(data, *options)
    if fmt == "svg":
        content = r.svg.encode("utf-8")
    elif fmt == "png":
        check_pixels(r.width_mm, r.height_mm, dpi)
        content = _raster.compose_png(r, data.kind, options, dpi, _qr_image) or svg_to_png(
            r.svg, dpi, r.width_mm, r.height_mm)
    else:
        content = pdf_label(r, data.kind, options, f"{data.certificate_number} ({data.kind} label)",
                            print_=print_, bleed_mm=bleed_mm, crops=crops)
    return content, r


def check_print(fmt: str, print_: str, bleed_mm, crops: bool) -> None:
    if print_ not in PRINTS:
        raise LabelError(f"print must be one of {', '.join(PRINTS)}, not {print_!r}")
    if not 0 <= float(bleed_mm) <= 5:
        raise LabelError("bleed is 0 to 5 mm")
    if fmt != "pdf" and (print_ != "rgb" or bleed_mm or crops):
        raise LabelError("print, bleed and crops apply to PDF labels only")


def render_label(data: LabelData, *, fmt: str = "svg", lang: str = "zh-en", mode: str = "link",
                 width_mm: float | None = None, dpi: int = 300, variant: str = "standard",
                 colour: str = "colour", print_: str = "rgb", bleed_mm: float = 0.0,
                 crops: bool = False) -> RenderedLabel:
    """Render one label as SVG, PNG or PDF.

    ``width_mm`` is the printed width (default per design: 60 mm, or 106 mm for the wider
    offline layout, 22 mm compact); the height follows the design's aspect. ``dpi`` applies
    to PNG only. ``variant="compact"`` is the small-pack label (grade, figure, QR; link mode,
    15 mm and up); ``colour="mono"`` prints in black only. For PDF, ``print_="cmyk"`` writes
    device CMYK, ``bleed_mm`` adds a bleed box around the label and ``crops`` crop marks.
    The same arguments always give the same bytes. Results are cached (LRU).

    Raises:
        LabelError: for an unknown format, language, mode, variant or colour, a size out of
            range (``label-too-small`` when text would be below 1.2 mm, ``label-too-large``
            for a raster above :data:`MAX_PIXELS`), or an offline QR code above version 22.
    """
    _check_options(fmt, lang, mode, width_mm, dpi)
    _check_variant(variant, colour, mode, width_mm)
    check_print(fmt, print_, bleed_mm, crops)
    if width_mm is not None:
        width_mm = float(width_mm)
    if fmt == "png":  # before the SVG is even built
        check_pixels(*label_size_mm(data.kind, mode, width_mm, variant), dpi)
    content, r = _render_cached(data, fmt, lang, mode, width_mm, int(dpi) if fmt == "png" else 0, variant,
                                colour, print_, float(bleed_mm), bool(crops))
    return RenderedLabel(content=content, media_type=MEDIA_TYPES[fmt], warnings=list(r.warnings),
                         qr_version=r.qr.version, qr_payload=r.qr_payload,
                         width_mm=r.width_mm, height_mm=r.height_mm)


def check_options(options: dict) -> None:
    """Refuse export options no label could be rendered with (before any work is queued).

    Raises:
        LabelError: as :func:`render_label` would for every label.
    """
    fmt = "pdf" if options.get("format") == "pdf-sheet" else "svg"
    _check_options(fmt, options["lang"], options["mode"], options.get("width"), 300)
    _check_variant(options.get("variant", "standard"), options.get("colour", "colour"), options["mode"],
                   options.get("width"))
    if options.get("print", "rgb") not in PRINTS:
        raise LabelError(f"print must be one of {', '.join(PRINTS)}")
    if options.get("print", "rgb") != "rgb" and options.get("format") == "zip" \
            and set(options.get("formats", ())) - {"pdf"}:
        raise LabelError("print=cmyk applies to PDF only: export formats [\"pdf\"] or a pdf-sheet")


def warnings_for(data: LabelData, *, lang: str = "zh-en", mode: str = "link", width_mm: float | None = None,
                 variant: str = "standard", colour: str = "colour") -> list[dict]:
    """What a person choosing these options should see before printing: each entry is
    ``{"severity": "refused" | "warning", "message": …}`` (refused: this size cannot be made,
    the message says the size that can). Never raises for a label that cannot be rendered."""
    try:
        r = render_svg(data, lang, mode, None if width_mm is None else float(width_mm), variant, colour)
    except LabelError as err:
        return [{"severity": "refused", "message": err.detail}]
    return [{"severity": "warning", "message": w} for w in r.warnings]


def clear_caches(*, glyphs: bool = True) -> None:
    """Empty the render, QR and text-run caches (and the glyph outlines unless told not to)."""
    _render_cached.cache_clear()
    render_svg.cache_clear()
    _qr.encode.cache_clear()
    font = get_font()
    if glyphs:
        font.clear()
        _raster.clear()
    else:
        from ._text import _run
        _run.cache_clear()
