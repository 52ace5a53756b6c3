"""Simulated phone photos of a printed QR code, to measure the smallest module that scans.

A printed code is drawn from its matrix at high resolution (the print is vectors), then taken
through what a phone photo does to it, in this order: the scene's geometry (rotation,
perspective), the lens (defocus blur, in mm on the label), the sensor (area sampling at
``camera_px_per_mm``), the lighting (contrast), the encoder (JPEG). ``bench/bench_qr_photo.py``
decodes every condition at a range of module sizes with zxing-cpp; the tests decode a few at
the minimum size set from it (``min_offline_module_mm`` in ``label_templates/designs.json``).
Pillow only; used by the benchmark and the tests, never by the registry itself.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

__all__ = ["Condition", "CONDITIONS", "CAMERAS", "CAMERA_PX_PER_MM", "photo", "decodes"]

#: A 1080p camera frame spanning ~26 cm (phone held ~18 cm away): 7.5 px per mm of label.
CAMERA_PX_PER_MM = 7.5
#: Two samplings (the phone a little nearer or farther): module edges fall on other pixels.
CAMERAS = (7.5, 8.0)
_SUPER = 6  # drawing resolution: px per module before the camera samples it


@dataclass(frozen=True)
class Condition:
    name: str
    blur_mm: float = 0.0        # Gaussian sigma of the defocus, on the label
    jpeg: int | None = None     # JPEG quality
    rotate: float = 0.0         # degrees
    keystone: float = 0.0       # far edge shorter by this fraction (camera tilted)
    contrast: float = 1.0       # ink-to-paper contrast left (1: black on white)


CONDITIONS = (
    Condition("clean"),
    Condition("blur 0.1 mm", blur_mm=0.1),
    Condition("JPEG q40", jpeg=40),
    Condition("rotated 17°", rotate=17),
    Condition("perspective 20 %", keystone=0.20),
    Condition("low contrast 35 %", contrast=0.35),
    Condition("all at once", blur_mm=0.06, jpeg=60, rotate=8, keystone=0.12, contrast=0.5),
)


def photo(matrix, module_mm: float, cond: Condition, *, quiet: int = 4,
          camera_px_per_mm: float = CAMERA_PX_PER_MM):
    """A greyscale Pillow image of the code (``matrix``: rows of bits, as ``QRMatrix``)
    printed with ``module_mm`` modules and photographed under ``cond``."""
    from PIL import Image, ImageFilter

    n = matrix.size + 2 * quiet
    raw = bytearray(b"\xff" * (n * n))
    for r, row in enumerate(matrix.rows):
        for c in range(matrix.size):
            if row >> c & 1:
                raw[(r + quiet) * n + c + quiet] = 0
    side = n * _SUPER
    code = Image.frombytes("L", (n, n), bytes(raw)).resize((side, side), Image.Resampling.NEAREST)
    margin = side // 3  # the label around the code
    scene = Image.new("L", (side + 2 * margin, side + 2 * margin), 255)
    scene.paste(code, (margin, margin))
    px_per_mm = _SUPER / module_mm
    if cond.rotate:
        scene = scene.rotate(cond.rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    if cond.keystone:
        w, h = scene.size
        k = cond.keystone * w / 2
        # Output corners map to the source: the top edge shows a wider strip (farther away).
        coeffs = _perspective([(0, 0), (w, 0), (w, h), (0, h)], [(-k, 0), (w + k, 0), (w, h), (0, h)])
        scene = scene.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC,
                                fillcolor=255)
    if cond.blur_mm:
        scene = scene.filter(ImageFilter.GaussianBlur(cond.blur_mm * px_per_mm))
    scale = camera_px_per_mm / px_per_mm
    w, h = scene.size
    shot = scene.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    if cond.contrast < 1:
        lo = round(255 * (1 - cond.contrast) * 0.6)
        hi = lo + round(255 * cond.contrast)
        shot = shot.point(lambda v: lo + (v * (hi - lo)) // 255)
    if cond.jpeg:
        buf = io.BytesIO()
        shot.save(buf, format="JPEG", quality=cond.jpeg)
        shot = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return shot


def decodes(image, expected: str) -> bool:
    """Whether zxing-cpp reads exactly ``expected`` from the image."""
    import zxingcpp

    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return any(r.text == expected for r in found)


def _perspective(dst, src) -> tuple:
    """Coefficients for Pillow's PERSPECTIVE transform mapping ``dst`` corners to ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return tuple(_solve(rows, rhs))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if math.isclose(m[col][col], 0.0, abs_tol=1e-12):
            raise ValueError("singular perspective")
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                m[r] = [x - factor * y for x, y in zip(m[r], m[col])]
    return [m[i][n] / m[i][i] for i in range(n)]
