"""Text as outlines: glyph paths from the vendored font, laid out by advance width.

Labels contain no ``<text>``: every run is one ``<path>`` built from the glyph outlines of
``label_templates/fonts/wqy-microhei.ttc`` (WenQuanYi Micro Hei, Apache-2.0), so a label
looks the same on every printer, rasteriser and PDF viewer, with no font to embed.

Glyph outlines are kept in font units (integers, TrueType quadratics; y pointing down) as
relative path commands after an absolute first ``M``, so a glyph moves along the line by
rewriting that one ``M``. A run is then placed with ``transform="matrix(k 0 0 k x y)"``.
The font is opened once, lazily; glyphs and runs are cached.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont

__all__ = ["Font", "Run", "get_font", "FONT_PATH"]

FONT_PATH = Path(__file__).resolve().parents[2] / "label_templates" / "fonts" / "wqy-microhei.ttc"
ELLIPSIS = "…"


def _num(v: float) -> str:
    if v == int(v):
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".")


class _RelativePathPen(BasePen):
    """Collects an outline as SVG path data: absolute first ``M``, relative commands after it,
    y negated (SVG's y points down), repeated command letters left out."""

    def __init__(self, glyphset):
        super().__init__(glyphset)
        self.parts: list[str] = []
        self.start: tuple[float, float] | None = None
        self.cur = (0.0, 0.0)
        self.contour_start = (0.0, 0.0)
        self.last_cmd = ""

    def _seg(self, cmd: str, *pts) -> None:
        x0, y0 = self.cur
        nums = []
        for x, y in pts:
            nums.append(_num(x - x0))
            nums.append(_num(-y - y0))
        body = " ".join(nums)
        if cmd == self.last_cmd:
            self.parts.append(body if body.startswith("-") else " " + body)
        else:
            self.parts.append(cmd + body)
        self.last_cmd = cmd
        self.cur = (pts[-1][0], -pts[-1][1])

    def _moveTo(self, pt):
        if self.start is None:
            self.start = self.cur = (pt[0], -pt[1])
            self.last_cmd = "M"
        else:
            self._seg("m", pt)
        self.contour_start = self.cur

    def _lineTo(self, pt):
        self._seg("l", pt)

    def _qCurveToOne(self, pt1, pt2):
        self._seg("q", pt1, pt2)

    def _curveToOne(self, pt1, pt2, pt3):
        self._seg("c", pt1, pt2, pt3)

    def _closePath(self):
        self.parts.append("z")
        self.last_cmd = "z"
        self.cur = self.contour_start

    _endPath = _closePath


@dataclass(frozen=True)
class _Glyph:
    advance: int
    start: tuple[float, float] | None  # absolute first point (None: no outline)
    rest: str                          # relative path data after the first M


@dataclass(frozen=True)
class Run:
    """A laid-out line of text in font units: path data and total advance width."""

    text: str
    d: str
    width: int
    missing: tuple[str, ...]


class Font:
    """One face of a TrueType collection, opened lazily and cached glyph by glyph."""

    def __init__(self, path: Path = FONT_PATH, number: int = 0):
        self.path = Path(path)
        self.number = number
        self._lock = threading.Lock()
        self._font: TTFont | None = None
        self._glyphs: dict[str, _Glyph] = {}

    def _open(self) -> TTFont:
        if self._font is None:
            with self._lock:
                if self._font is None:
                    font = TTFont(str(self.path), fontNumber=self.number, lazy=True)
                    self._cmap = font.getBestCmap()
                    self._glyphset = font.getGlyphSet()
                    self._hmtx = font["hmtx"]
                    self.units_per_em = font["head"].unitsPerEm
                    self.ascent = font["hhea"].ascent
                    self.descent = font["hhea"].descent
                    self.cap_height = getattr(font["OS/2"], "sCapHeight", 0) or int(
                        0.7 * self.units_per_em)
                    self._font = font
        return self._font

    @property
    def upem(self) -> int:
        self._open()
        return self.units_per_em

    def has(self, ch: str) -> bool:
        self._open()
        return ord(ch) in self._cmap

    def glyph(self, ch: str) -> _Glyph:
        g = self._glyphs.get(ch)
        if g is not None:
            return g
        self._open()
        with self._lock:  # fontTools decompiles lazily; one thread at a time
            g = self._glyphs.get(ch)
            if g is None:
                name = self._cmap.get(ord(ch), ".notdef")
                pen = _RelativePathPen(self._glyphset)
                self._glyphset[name].draw(pen)
                advance = self._hmtx[name][0]
                g = _Glyph(advance, pen.start, "".join(pen.parts))
                self._glyphs[ch] = g
        return g

    def run(self, text: str) -> Run:
        return _run(self, text)

    def width(self, text: str) -> int:
        """Advance width of ``text`` in font units."""
        return sum(self.glyph(ch).advance for ch in text)

    def fit(self, text: str, size: float, max_width: float | None,
            min_size: float | None = None) -> tuple[str, float]:
        """Shrink ``size`` down to ``min_size`` so ``text`` fits ``max_width`` (user units);
        if it still does not fit, cut it and end it with an ellipsis."""
        if max_width is None:
            return text, size
        upem = self.upem
        w = self.width(text)
        if w * size / upem <= max_width:
            return text, size
        min_size = size if min_size is None else min_size
        scaled = max_width * upem / w
        if scaled >= min_size:
            return text, scaled
        limit = max_width * upem / min_size - self.glyph(ELLIPSIS).advance
        total = 0
        cut = 0
        for i, ch in enumerate(text):
            total += self.glyph(ch).advance
            if total > limit:
                break
            cut = i + 1
        return text[:cut].rstrip() + ELLIPSIS, min_size

    def clear(self) -> None:
        """Forget cached glyph outlines and runs (the font stays open)."""
        with self._lock:
            self._glyphs.clear()
        _run.cache_clear()


@lru_cache(maxsize=4096)
def _run(font: Font, text: str) -> Run:
    parts = []
    pen_x = 0
    missing = []
    for ch in text:
        if ch in "\n\r\t":
            ch = " "
        g = font.glyph(ch)
        if not font.has(ch) and not ch.isspace():
            missing.append(ch)
        if g.start is not None:
            parts.append(f"M{_num(g.start[0] + pen_x)} {_num(g.start[1])}{g.rest}")
        pen_x += g.advance
    return Run(text, "".join(parts), pen_x, tuple(missing))


_default: Font | None = None


def get_font() -> Font:
    """The label font (opened on first use)."""
    global _default
    if _default is None:
        _default = Font()
    return _default


def accessible(text: str) -> str:
    """Text for ``aria-label``: compatibility characters folded (CO₂ → CO2)."""
    return unicodedata.normalize("NFKC", text)
