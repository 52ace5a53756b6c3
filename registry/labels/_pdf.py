"""PDF labels written directly from our own label SVGs: vectors, shared glyphs, shared artwork.

A label SVG uses a small, known subset of SVG (paths with M/L/H/V/Q/C/Z, rects with rx,
circles, ellipses, one translate-and-scale group, solid fills and strokes, fill-opacity). This
module turns it into PDF content directly, which fpdf2 did by re-parsing every glyph outline
for every label. Each glyph is one form XObject (outline converted once per process and written
once per file), the design's static layer (see ``_layers``) is one form XObject drawn by every
label of that design, and the QR code is rectangles per run of dark modules. Colours go through
a colour function, so the same drawing comes out in RGB, CMYK or black only. Output is
deterministic: fixed dates, fixed object order, fixed number formatting.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from functools import lru_cache

from ._text import get_font

__all__ = ["PdfDoc", "PT_PER_MM", "rgb_ops", "cmyk_ops", "mono_ops"]

PT_PER_MM = 72 / 25.4
_ATTR = re.compile(r'\s([\w:-]+)="([^"]*)"')
_TOKEN = re.compile(r"[MmLlHhVvQqCcZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_MATRIX = re.compile(r"matrix\(([-\d.e]+) 0 0 [-\d.e]+ ([-\d.e]+) ([-\d.e]+)\)")
_TRANSLATE_SCALE = re.compile(r"translate\(([-\d.e]+) ([-\d.e]+)\) scale\(([-\d.e]+)\)")
_KAPPA = 0.5522847498


def f(v: float) -> str:
    """A PDF number: at most 3 decimals, no trailing zeros."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _hex(colour: str) -> tuple[float, float, float]:
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    return int(c[0:2], 16) / 255, int(c[2:4], 16) / 255, int(c[4:6], 16) / 255


def rgb_ops(colour: str, stroke: bool) -> str:
    r, g, b = _hex(colour)
    return f"{f(r)} {f(g)} {f(b)} {'RG' if stroke else 'rg'}"


def cmyk_ops(colour: str, stroke: bool) -> str:
    """Device CMYK by the plain formula (no ICC profile): pure black stays K only."""
    r, g, b = _hex(colour)
    k = 1 - max(r, g, b)
    if k >= 1:
        c = m = y = 0.0
    else:
        c, m, y = ((1 - v - k) / (1 - k) for v in (r, g, b))
    return f"{f(c)} {f(m)} {f(y)} {f(k)} {'K' if stroke else 'k'}"


def mono_ops(colour: str, stroke: bool) -> str:
    """Black only: anything darker than mid-grey is black, lighter is white (paper)."""
    r, g, b = _hex(colour)
    level = 0 if (0.2126 * r + 0.7152 * g + 0.0722 * b) < 0.6 else 1
    return f"{level} {'G' if stroke else 'g'}"


def path_ops(d: str) -> str:
    """SVG path data (absolute and relative M L H V Q C Z) as PDF path operators."""
    out = []
    tokens = _TOKEN.findall(d)
    i = 0
    cmd = ""
    x = y = sx = sy = 0.0
    while i < len(tokens):
        t = tokens[i]
        if t.isalpha():
            cmd = t
            i += 1
            if cmd in "Zz":
                out.append("h")
                x, y = sx, sy
                continue
        rel = cmd.islower()
        c = cmd.upper()
        ox, oy = (x, y) if rel else (0.0, 0.0)
        if c == "M":
            x, y = ox + float(tokens[i]), oy + float(tokens[i + 1])
            i += 2
            out.append(f"{f(x)} {f(y)} m")
            sx, sy = x, y
            cmd = "l" if rel else "L"
        elif c == "L":
            x, y = ox + float(tokens[i]), oy + float(tokens[i + 1])
            i += 2
            out.append(f"{f(x)} {f(y)} l")
        elif c == "H":
            x = ox + float(tokens[i])
            i += 1
            out.append(f"{f(x)} {f(y)} l")
        elif c == "V":
            y = (y if rel else 0.0) + float(tokens[i])
            i += 1
            out.append(f"{f(x)} {f(y)} l")
        elif c == "Q":
            qx, qy = ox + float(tokens[i]), oy + float(tokens[i + 1])
            ex, ey = ox + float(tokens[i + 2]), oy + float(tokens[i + 3])
            i += 4
            c1x, c1y = x + 2 / 3 * (qx - x), y + 2 / 3 * (qy - y)
            c2x, c2y = ex + 2 / 3 * (qx - ex), ey + 2 / 3 * (qy - ey)
            out.append(f"{f(c1x)} {f(c1y)} {f(c2x)} {f(c2y)} {f(ex)} {f(ey)} c")
            x, y = ex, ey
        elif c == "C":
            pts = [float(v) for v in tokens[i:i + 6]]
            i += 6
            c1x, c1y, c2x, c2y, ex, ey = (pts[0] + ox, pts[1] + oy, pts[2] + ox, pts[3] + oy,
                                          pts[4] + ox, pts[5] + oy)
            out.append(f"{f(c1x)} {f(c1y)} {f(c2x)} {f(c2y)} {f(ex)} {f(ey)} c")
            x, y = ex, ey
        else:
            raise ValueError(f"unsupported path command {cmd!r}")
    return "\n".join(out)


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> str:
    kx, ky = rx * _KAPPA, ry * _KAPPA
    return "\n".join([
        f"{f(cx + rx)} {f(cy)} m",
        f"{f(cx + rx)} {f(cy + ky)} {f(cx + kx)} {f(cy + ry)} {f(cx)} {f(cy + ry)} c",
        f"{f(cx - kx)} {f(cy + ry)} {f(cx - rx)} {f(cy + ky)} {f(cx - rx)} {f(cy)} c",
        f"{f(cx - rx)} {f(cy - ky)} {f(cx - kx)} {f(cy - ry)} {f(cx)} {f(cy - ry)} c",
        f"{f(cx + kx)} {f(cy - ry)} {f(cx + rx)} {f(cy - ky)} {f(cx + rx)} {f(cy)} c", "h"])


def _rect(x: float, y: float, w: float, h: float, r: float) -> str:
    if r <= 0:
        return f"{f(x)} {f(y)} {f(w)} {f(h)} re"
    r = min(r, w / 2, h / 2)
    k = r * (1 - _KAPPA)
    return "\n".join([
        f"{f(x + r)} {f(y)} m", f"{f(x + w - r)} {f(y)} l",
        f"{f(x + w - k)} {f(y)} {f(x + w)} {f(y + k)} {f(x + w)} {f(y + r)} c",
        f"{f(x + w)} {f(y + h - r)} l",
        f"{f(x + w)} {f(y + h - k)} {f(x + w - k)} {f(y + h)} {f(x + w - r)} {f(y + h)} c",
        f"{f(x + r)} {f(y + h)} l",
        f"{f(x + k)} {f(y + h)} {f(x)} {f(y + h - k)} {f(x)} {f(y + h - r)} c",
        f"{f(x)} {f(y + r)} l",
        f"{f(x)} {f(y + k)} {f(x + k)} {f(y)} {f(x + r)} {f(y)} c", "h"])


@lru_cache(maxsize=8192)
def glyph_ops(ch: str) -> tuple[str, int]:
    """A glyph's outline as PDF path operators in font units (y down), and its advance."""
    g = get_font().glyph(ch)
    if g.start is None:
        return "", g.advance
    return path_ops(f"M{g.start[0]:g} {g.start[1]:g}{g.rest}"), g.advance


@lru_cache(maxsize=8192)
def _glyph_form(ch: str, bold: bool) -> bytes:
    ops, advance = glyph_ops(ch)
    font = get_font()
    pad = font.upem * 0.05
    bbox = (-font.upem - pad, -font.ascent - pad, advance + font.upem + pad, -font.descent + pad)
    paint = ("1 j\nB" if bold else "f") if ops else ""
    raw = zlib.compress(f"{ops}\n{paint}".encode("latin-1"), 6)
    return (f"<< /Length {len(raw)} /Filter /FlateDecode /Type /XObject /Subtype /Form "
            f"/BBox [{' '.join(f(v) for v in bbox)}] /Resources 3 0 R >>\nstream\n".encode()
            + raw + b"\nendstream")


@lru_cache(maxsize=64)
def _layer_form(layer_id: str, colour, elements: tuple[str, ...], runs_key: tuple, viewbox) -> tuple:
    """A design's static layer: (form bytes, glyphs it uses, opacity states it uses)."""
    probe = PdfDoc(title="", colour=colour)
    content = "\n".join(probe.element_ops(e, dict(runs_key)) for e in elements)
    raw = zlib.compress(content.encode("latin-1"), 6)
    form = (f"<< /Length {len(raw)} /Filter /FlateDecode /Type /XObject /Subtype /Form "
            f"/BBox [0 0 {f(viewbox[0])} {f(viewbox[1])}] /Resources 3 0 R >>\nstream\n".encode()
            + raw + b"\nendstream")
    return form, tuple(probe.glyphs), tuple(probe.states)


class PdfDoc:
    """A PDF being built: pages of label drawings sharing glyph and layer form XObjects."""

    def __init__(self, *, title: str, colour: Callable[[str, bool], str] = rgb_ops,
                 date: str = "D:20250101000000+00'00'"):
        self.title = title
        self.colour = colour
        self.date = date
        self.objects: list[bytes | None] = [None, None, None]  # catalog, pages, resources
        self.pages: list[int] = []
        self.xobjects: dict[str, int] = {}  # resource name → object number
        self.glyphs: dict[tuple[str, bool], str] = {}
        self.layers: dict[str, str] = {}
        self.states: dict[tuple[str, str], str] = {}

    # -- objects -----------------------------------------------------------------------------

    def _add(self, data: bytes) -> int:
        self.objects.append(data)
        return len(self.objects)

    def _stream(self, content: str, extra: str = "") -> bytes:
        raw = zlib.compress(content.encode("latin-1"), 6)
        return (f"<< /Length {len(raw)} /Filter /FlateDecode{extra} >>\nstream\n".encode()
                + raw + b"\nendstream")

    def _form(self, content: str, bbox: tuple[float, float, float, float]) -> int:
        extra = (f" /Type /XObject /Subtype /Form /BBox [{' '.join(f(v) for v in bbox)}]"
                 " /Resources 3 0 R")
        return self._add(self._stream(content, extra))

    def state(self, fill_opacity: str, stroke_opacity: str) -> str:
        key = (fill_opacity, stroke_opacity)
        if key not in self.states:
            self.states[key] = f"/A{fill_opacity}_{stroke_opacity}".replace(".", "d")
        return self.states[key]

    def glyph(self, ch: str, bold: bool) -> str:
        """The resource name of a glyph's form XObject (named by code point, so the same in
        every document; its bytes are made once per process)."""
        key = (ch, bold)
        name = self.glyphs.get(key)
        if name is None:
            name = f"/G{ord(ch):x}{'b' if bold else ''}"
            self.xobjects[name] = self._add(_glyph_form(ch, bold))
            self.glyphs[key] = name
        return name

    # -- drawing -----------------------------------------------------------------------------

    def element_ops(self, element: str, runs: dict) -> str:
        """PDF operators for one top-level SVG element of a label."""
        if element in runs:
            return self._text_ops(element, runs[element])
        if element.startswith("<g"):
            m = _TRANSLATE_SCALE.search(element[:element.index(">")])
            inner = re.findall(r"<(?:path|rect|circle|ellipse)\b[^>]*/>", element)
            body = "\n".join(self._shape_ops(e) for e in inner)
            if m:
                tx, ty, s = (float(v) for v in m.groups())
                return f"q {f(s)} 0 0 {f(s)} {f(tx)} {f(ty)} cm\n{body}\nQ"
            return body
        return self._shape_ops(element)

    def _paint(self, attrs: dict, geometry: str) -> str:
        fill = attrs.get("fill", "#000000")
        stroke = attrs.get("stroke", "none")
        ops = ["q"]
        fo, so = attrs.get("fill-opacity"), attrs.get("stroke-opacity")
        if fo or so:
            ops.append(f"{self.state(fo or '1', so or '1')} gs")
        if fill != "none":
            ops.append(self.colour(fill, False))
        if stroke != "none":
            ops.append(self.colour(stroke, True))
            ops.append(f"{f(float(attrs.get('stroke-width', 1)))} w")
            if attrs.get("stroke-linecap") == "round":
                ops.append("1 J")
            if attrs.get("stroke-linejoin") == "round":
                ops.append("1 j")
            if "stroke-dasharray" in attrs:
                ops.append(f"[{' '.join(f(float(v)) for v in attrs['stroke-dasharray'].split())}] 0 d")
        ops.append(geometry)
        paint = {(True, True): "B", (True, False): "f", (False, True): "S"}.get(
            (fill != "none", stroke != "none"), "n")
        ops.append(paint)
        ops.append("Q")
        return "\n".join(ops)

    def _shape_ops(self, element: str) -> str:
        attrs = dict(_ATTR.findall(element))
        if element.startswith("<path"):
            if 'shape-rendering="crispEdges"' in element:
                return self._qr_ops(attrs)
            return self._paint(attrs, path_ops(attrs["d"]))
        if element.startswith("<rect"):
            geometry = _rect(float(attrs.get("x", 0)), float(attrs.get("y", 0)), float(attrs["width"]),
                             float(attrs["height"]), float(attrs.get("rx", 0)))
            return self._paint(attrs, geometry)
        if element.startswith("<circle"):
            r = float(attrs["r"])
            return self._paint(attrs, _ellipse(float(attrs["cx"]), float(attrs["cy"]), r, r))
        if element.startswith("<ellipse"):
            return self._paint(attrs, _ellipse(float(attrs["cx"]), float(attrs["cy"]),
                                               float(attrs["rx"]), float(attrs["ry"])))
        raise ValueError(f"unsupported label element {element[:40]!r}")

    def _qr_ops(self, attrs: dict) -> str:
        m = re.match(r"matrix\(([-\d.e]+) 0 0 [-\d.e]+ ([-\d.e]+) ([-\d.e]+)\)", attrs["transform"])
        k, tx, ty = (float(v) for v in m.groups())
        rects = [f"{a} {b} {c} 1 re" for a, b, c in
                 re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", attrs["d"])]
        return (f"q {f(k)} 0 0 {f(k)} {f(tx)} {f(ty)} cm\n{self.colour('#000000', False)}\n"
                + "\n".join(rects) + "\nf\nQ")

    def _text_ops(self, element: str, text: str) -> str:
        attrs = dict(_ATTR.findall(element))
        k, tx, ty = (float(v) for v in _MATRIX.match(attrs["transform"]).groups())
        bold = "stroke" in attrs
        ops = ["q"]
        fo = attrs.get("fill-opacity")
        if fo:
            ops.append(f"{self.state(fo, attrs.get('stroke-opacity', '1'))} gs")
        fill = attrs.get("fill", "#000000")
        ops.append(self.colour(fill, False))
        if bold:
            ops.append(self.colour(fill, True))
            ops.append(f"{f(float(attrs['stroke-width']))} w")
        ops.append(f"{f(k)} 0 0 {f(k)} {f(tx)} {f(ty)} cm")
        last = 0
        pen = 0
        for ch in text:
            if ch in "\n\r\t":
                ch = " "
            ops_, advance = glyph_ops(ch)
            if ops_:
                ops.append(f"1 0 0 1 {pen - last} 0 cm {self.glyph(ch, bold)} Do")
                last = pen
            pen += advance
        ops.append("Q")
        return "\n".join(ops)

    def layer(self, layer_id: str, elements: tuple[str, ...], runs: dict, viewbox) -> str:
        """The name of a form XObject drawing ``elements`` (made once per document)."""
        name = self.layers.get(layer_id)
        if name is None:
            runs_key = tuple((e, runs[e]) for e in elements if e in runs)
            form, glyphs, states = _layer_form(layer_id, self.colour, elements, runs_key, tuple(viewbox))
            for ch, bold in glyphs:
                self.glyph(ch, bold)
            for fo, so in states:
                self.state(fo, so)
            name = f"/L{len(self.layers) + 1}"
            self.xobjects[name] = self._add(form)
            self.layers[layer_id] = name
        return name

    def label_ops(self, rendered, x_pt: float, top_pt: float, w_pt: float, *, layer=None) -> str:
        """Operators drawing a rendered label with its top-left corner at (x_pt, top_pt)."""
        s = w_pt / rendered.viewbox[0]
        ops = [f"q {f(s)} 0 0 {f(-s)} {f(x_pt)} {f(top_pt)} cm"]
        if layer is not None:
            split, own, layer_id, static = layer
            ops.append(f"{self.layer(layer_id, static, rendered.runs, rendered.viewbox)} Do")
            elements = own
        else:
            from ._layers import split_svg

            elements = split_svg(rendered.svg).elements
        ops.extend(self.element_ops(e, rendered.runs) for e in elements)
        ops.append("Q")
        return "\n".join(ops)

    def add_page(self, w_pt: float, h_pt: float, content: str, *, boxes: dict | None = None) -> None:
        contents = self._add(self._stream(content))
        extra = "".join(f" /{name} [{' '.join(f(v) for v in box)}]" for name, box in (boxes or {}).items())
        page = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {f(w_pt)} {f(h_pt)}]{extra} "
                f"/Resources 3 0 R /Contents {contents} 0 R >>")
        self.pages.append(self._add(page.encode()))

    def output(self) -> bytes:
        def text(s: str) -> str:
            return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

        xobjects = " ".join(f"{name} {num} 0 R" for name, num in self.xobjects.items())
        states = " ".join(f"{name} << /Type /ExtGState /ca {fo} /CA {so} >>"
                          for (fo, so), name in self.states.items())
        self.objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
        self.objects[1] = (f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in self.pages)}] "
                           f"/Count {len(self.pages)} >>").encode()
        self.objects[2] = f"<< /XObject << {xobjects} >> /ExtGState << {states} >> >>".encode()
        title = self.title.encode("ascii", "replace").decode()
        info = self._add((f"<< /Title {text(title)} /Producer (carbon-label-registry) "
                          f"/Creator (carbon-label-registry labels) /CreationDate ({self.date}) >>").encode())
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for num, data in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += f"{num} 0 obj\n".encode() + data + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(self.objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
        out += (f"trailer\n<< /Size {len(self.objects) + 1} /Root 1 0 R /Info {info} 0 R >>\n"
                f"startxref\n{xref}\n%%EOF\n").encode()
        return bytes(out)


def ceil_pt(v: float) -> float:
    return math.ceil(v * 1000) / 1000
