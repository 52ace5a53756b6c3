"""PNG labels composed from cached parts: the design's static layer, glyph masks, the QR code.

Rasterising a whole label in resvg spends most of its time on glyph outlines and artwork that
are the same on every label. Here a label is the design's static layer (see ``_layers``,
rasterised once per design and resolution), the label's own shapes (marker, steps, stars:
rasterised on a canvas cropped to them), its own text as glyph masks (each glyph rasterised
once per size, fill style and quarter-pixel horizontal position, baselines on whole pixels,
then blended in place) and the QR code
drawn module by module on whole pixels. The same label always gives the same bytes.
"""

from __future__ import annotations

import io
import math
import re
import struct
import threading
import zlib
from collections import OrderedDict
from functools import lru_cache

from . import _layers
from ._text import get_font

__all__ = ["compose_png", "clear"]

PHASES = 4  # horizontal sub-pixel positions a glyph mask is made for
PHASES_Y = 1  # baselines snap to whole pixels, as hinted text does
_ATTR = re.compile(r'\s([\w:-]+)="([^"]*)"')
_MATRIX = re.compile(r"matrix\(([-\d.e]+) 0 0 [-\d.e]+ ([-\d.e]+) ([-\d.e]+)\)")
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
_MAX_MASKS = 12_000

_masks: OrderedDict = OrderedDict()
_lock = threading.Lock()


def clear() -> None:
    """Forget glyph masks and static layers."""
    with _lock:
        _masks.clear()
    _static.cache_clear()


def _resvg(svg: str, background: str | None = None):
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True, background=background)
    image = Image.open(io.BytesIO(bytes(png)))
    image.load()
    return image


def _svg(w: int, h: int, vx: float, vy: float, scale: float, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="{vx:.6f} {vy:.6f} {w / scale:.6f} {h / scale:.6f}">{body}</svg>')


@lru_cache(maxsize=24)
def _static(kind: str, options: tuple, size: tuple[int, int], scale: float):
    body = "".join(_layers.static_elements(kind, options))
    return _resvg(_svg(size[0], size[1], 0, 0, scale, body), "#ffffff").convert("RGB")


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _bbox(element: str) -> tuple[float, float, float, float] | None:
    """User-unit box of a shape with absolute coordinates (None if it cannot tell)."""
    attrs = dict(_ATTR.findall(element))
    if "transform" in attrs:
        return None
    pad = float(attrs.get("stroke-width", 0) or 0) + 2
    if element.startswith("<rect"):
        x, y = float(attrs.get("x", 0)), float(attrs.get("y", 0))
        return x - pad, y - pad, x + float(attrs["width"]) + pad, y + float(attrs["height"]) + pad
    if element.startswith("<circle"):
        cx, cy, r = float(attrs["cx"]), float(attrs["cy"]), float(attrs["r"])
        return cx - r - pad, cy - r - pad, cx + r + pad, cy + r + pad
    if element.startswith("<path") and "d" in attrs:
        d = attrs["d"]
        if re.search(r"[a-yA-Y]", re.sub(r"[MLHVZ]", "", d)):
            return None  # relative or curved commands: not worth parsing
        xs, ys = [], []
        for cmd, args in re.findall(r"([MLHVZ])([^MLHVZ]*)", d):
            nums = [float(n) for n in _NUM.findall(args)]
            if cmd in "ML":
                xs += nums[0::2]
                ys += nums[1::2]
            elif cmd == "H":
                xs += nums
            elif cmd == "V":
                ys += nums
        if not xs or not ys:
            return None
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    return None


def _glyph_cells(cells: list[tuple], scale_key) -> None:
    """Rasterise missing glyph masks in one resvg call (a strip of cells), store them."""
    from PIL import Image

    font = get_font()
    upem = font.upem
    parts, boxes = [], []
    x = 0
    for key in cells:
        ch, k, bold, fx, fy = key
        g = font.glyph(ch)
        pad = 2 + math.ceil(0.2 * upem * k)
        top = math.ceil(font.ascent * k) + pad
        w = math.ceil(g.advance * k) + 2 * pad
        h = top + math.ceil(-font.descent * k) + pad
        ox, oy = x + pad + fx / PHASES, top + fy / PHASES_Y
        stroke = (f' stroke="#000" stroke-width="{upem * 0.04:g}" stroke-linejoin="round"' if bold else "")
        if g.start is not None:
            parts.append(f'<path transform="matrix({k:.6g} 0 0 {k:.6g} {ox:.4f} {oy:.4f})" fill="#000"{stroke} '
                         f'd="M{g.start[0]:g} {g.start[1]:g}{g.rest}"/>')
        boxes.append((key, x, w, h, pad, top))
        x += w
    height = max(b[3] for b in boxes)
    strip = Image.new("L", (max(x, 1), height), 0)
    if parts:
        strip = _resvg(_svg(max(x, 1), height, 0, 0, 1.0, "".join(parts))).getchannel("A")
    with _lock:
        for key, x0, w, h, pad, top in boxes:
            _masks[key] = (strip.crop((x0, 0, x0 + w, h)), pad, top)
        while len(_masks) > _MAX_MASKS:
            _masks.popitem(last=False)


def _draw_text(image, element: str, text: str, scale: float) -> bool:
    attrs = dict(_ATTR.findall(element))
    m = _MATRIX.match(attrs.get("transform", ""))
    if m is None:
        return False
    k, tx, ty = float(m.group(1)), float(m.group(2)), float(m.group(3))
    K = round(k * scale, 6)
    bold = "stroke" in attrs
    colour = _rgb(attrs.get("fill", "#000000"))
    opacity = float(attrs.get("fill-opacity", 1))
    font = get_font()
    placed = []
    pen = 0
    for ch in text:
        if ch in "\n\r\t":
            ch = " "
        g = font.glyph(ch)
        if g.start is not None:
            X, Y = (tx + pen * k) * scale, ty * scale
            ix, iy = math.floor(X), math.floor(Y)
            fx, fy = round((X - ix) * PHASES), round((Y - iy) * PHASES_Y)
            if fx == PHASES:
                ix, fx = ix + 1, 0
            if fy == PHASES_Y:
                iy, fy = iy + 1, 0
            placed.append(((ch, K, bold, fx, fy), ix, iy))
        pen += g.advance
    missing = list(dict.fromkeys(key for key, _, _ in placed if key not in _masks))
    if missing:
        _glyph_cells(missing, K)
    for key, ix, iy in placed:
        mask, pad, top = _masks.get(key) or (None, 0, 0)
        if mask is None:
            _glyph_cells([key], K)
            mask, pad, top = _masks[key]
        if opacity < 1:
            mask = mask.point(lambda v: round(v * opacity))
        image.paste(colour, (ix - pad, iy - top), mask)
    return True


def compose_png(r, kind: str, options: tuple, dpi: int, qr_image) -> bytes | None:
    """The label as PNG bytes from cached parts, or None if it has to be rasterised whole."""
    found = _layers.layered(kind, options, r.svg)
    if found is None:
        return None
    _, own, _ = found
    vw, vh = r.viewbox
    size = (round(r.width_mm * dpi / 25.4), round(r.height_mm * dpi / 25.4))
    scale = size[0] / vw
    texts, shapes, qr = [], [], []
    for element in own:
        if element in r.runs:
            texts.append(element)
        elif 'shape-rendering="crispEdges"' in element:
            qr.append(element)
        else:
            shapes.append(element)
    if len(qr) != 1:
        return None
    image = _static(kind, options, size, scale).copy()
    # Each shape on a canvas cropped to it (they are small: marker, steps, stars), in document
    # order; a shape whose box cannot be told goes on one full canvas with the others like it.
    unknown = [e for e in shapes if _bbox(e) is None]
    groups = [([e], _bbox(e)) for e in shapes if _bbox(e) is not None]
    if unknown:
        groups = [(unknown, (0, 0, size[0] / scale, size[1] / scale))] + groups
    for elements, box in groups:
        x0, y0 = max(0, math.floor(box[0] * scale)), max(0, math.floor(box[1] * scale))
        x1, y1 = min(size[0], math.ceil(box[2] * scale)), min(size[1], math.ceil(box[3] * scale))
        if x1 > x0 and y1 > y0:
            layer = _resvg(_svg(x1 - x0, y1 - y0, x0 / scale, y0 / scale, scale, "".join(elements)))
            image.paste(layer.convert("RGB"), (x0, y0), layer.getchannel("A"))
    for element in texts:
        if not _draw_text(image, element, r.runs[element], scale):
            return None
    x, y, side = r.qr_box
    qx0, qy0, qx1 = round(x * scale), round(y * scale), round((x + side) * scale)
    image.paste(qr_image(r.qr, qx1 - qx0), (qx0, qy0))
    return encode_png(image, dpi)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image, dpi: int) -> bytes:
    """An RGB image as PNG with its resolution (pHYs). Rows unfiltered and zlib level 1: label
    art is flat colour, which this compresses as well as adaptive filtering at a fraction of
    the time Pillow's encoder takes."""
    w, h = image.size
    raw = image.tobytes()
    stride = 3 * w
    rows = b"".join(b"\x00" + raw[i:i + stride] for i in range(0, len(raw), stride))
    ppm = round(dpi / 0.0254)
    return b"".join((b"\x89PNG\r\n\x1a\n",
                     _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)),
                     _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
                     _chunk(b"IDAT", zlib.compress(rows, 1)),
                     _chunk(b"IEND", b"")))
