"""Many labels at once: an A4 print sheet (PDF) and a ZIP archive of files."""

from __future__ import annotations

import io
import re
import zipfile
from typing import BinaryIO, Callable, Iterable, Sequence

from ._data import LabelData, LabelError
from ._pdf import PT_PER_MM, PdfDoc
from ._pdf import f as pdf_number
from ._render import FORMATS, _check_options, layer_for, pdf_colour, render_label, render_svg

__all__ = ["render_sheet", "render_archive", "archive_names"]

Progress = Callable[[int, int], None]

PAGE_SIZES = {"A4": (210.0, 297.0), "A3": (297.0, 420.0), "letter": (215.9, 279.4)}
#: Zip entries' fixed time (the earliest a ZIP can state), so archives are reproducible.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def render_sheet(items: Iterable[LabelData], *, lang: str = "zh-en", mode: str = "link",
                 width_mm: float | None = None, page: str = "A4", margin_mm: float = 8.0,
                 gap_mm: float = 3.0, cut_lines: bool = True,
                 progress: Progress | None = None, total: int | None = None,
                 out: BinaryIO | None = None, warnings: list | None = None,
                 variant: str = "standard", colour: str = "colour", print_: str = "rgb") -> bytes | None:
    """A multi-page PDF with the labels laid out in rows on A4 (or ``page``) portrait sheets.

    Labels are placed left to right and top to bottom as they fit (at the default 60 mm
    width, 3 × 3 footprint labels per A4 page), with thin grey cut lines around each.
    ``progress(done, total)`` is called after each label. ``items`` may be any iterable
    (a generator reading the database in chunks) when ``total`` says how many it yields.
    With ``out`` the PDF is written there and None returned. ``warnings``, a list, receives
    ``(certificate number, message)`` for every label warning.

    Raises:
        LabelError: for no items, unknown options, or a label larger than the printable area.
    """
    if total is None:
        items = list(items)
        total = len(items)
    if not total:
        raise LabelError("no labels to put on a sheet")
    if page not in PAGE_SIZES:
        raise LabelError(f"page must be one of {', '.join(PAGE_SIZES)}")
    _check_options("pdf", lang, mode, width_mm, 300)
    pw, ph = PAGE_SIZES[page]
    width = None if width_mm is None else float(width_mm)
    doc = PdfDoc(title=f"Carbon labels ({total})", colour=pdf_colour(colour, print_))
    options = (lang, mode, width, variant, colour)
    cut = "0.745 G" if colour == "mono" and print_ != "cmyk" else doc.colour("#bebebe", True)
    x = y = row_h = 0.0
    ops: list[str] = []

    def flush() -> None:
        if ops:
            doc.add_page(pw * PT_PER_MM, ph * PT_PER_MM, "\n".join(ops))
            ops.clear()

    started = False
    for i, data in enumerate(items):
        try:
            r = render_svg(data, *options)
        except LabelError as err:
            raise LabelError(f"{data.certificate_number}: {err.detail}", type=err.type) from err
        if warnings is not None:
            warnings.extend((data.certificate_number, w) for w in r.warnings)
        w, h = r.width_mm, r.height_mm
        if w > pw - 2 * margin_mm + 1e-6 or h > ph - 2 * margin_mm + 1e-6:
            raise LabelError(f"a {w:.1f} × {h:.1f} mm label does not fit on {page} "
                             f"with {margin_mm} mm margins")
        if started and x + w > pw - margin_mm + 1e-6:
            x, y, row_h = margin_mm, y + row_h + gap_mm, 0.0
        if not started or y + h > ph - margin_mm + 1e-6:
            flush()
            x, y, row_h = margin_mm, margin_mm, 0.0
            started = True
        ops.append(doc.label_ops(r, x * PT_PER_MM, (ph - y) * PT_PER_MM, w * PT_PER_MM,
                                 layer=layer_for(r, data.kind, options)))
        if cut_lines:
            ops.append(f"q {cut} 0.283 w {pdf_number(x * PT_PER_MM)} {pdf_number((ph - y - h) * PT_PER_MM)} "
                       f"{pdf_number(w * PT_PER_MM)} {pdf_number(h * PT_PER_MM)} re S Q")
        x += w + gap_mm
        row_h = max(row_h, h)
        if progress is not None:
            progress(i + 1, total)
    flush()
    content = doc.output()
    if out is None:
        return content
    out.write(content)
    return None


def archive_names(items: Iterable[LabelData], formats: Sequence[str] = FORMATS) -> list[str]:
    """The file names :func:`render_archive` uses: ``<certificateNumber>.<ext>``.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``.

    Raises:
        LabelError: if two items would get the same name.
    """
    names, seen = [], set()
    for data in items:
        stem = _UNSAFE.sub("_", data.certificate_number).strip("._") or data.certificate_id
        if stem in seen:
            raise LabelError(f"two labels share the file name {stem!r} (same certificate number)")
        seen.add(stem)
        names.extend(f"{stem}.{ext}" for ext in formats)
    return names


def render_archive(items: Iterable[LabelData], *, formats: Sequence[str] = FORMATS,
                   lang: str = "zh-en", mode: str = "link", width_mm: float | None = None,
                   dpi: int = 300, progress: Progress | None = None, total: int | None = None,
                   out: BinaryIO | None = None, warnings: list | None = None,
                   variant: str = "standard", colour: str = "colour", print_: str = "rgb") -> bytes | None:
    """A ZIP of every label in every format, named ``<certificateNumber>.<ext>``.

    Entries carry a fixed timestamp and mode, so the same labels give the same bytes.
    ``progress(done, total)`` is called after each label (all its formats). ``items`` may be
    any iterable when ``total`` is given; with ``out`` the ZIP is written there as it grows
    (None returned). ``warnings`` receives ``(certificate number, message)`` pairs.

    Raises:
        LabelError: for unknown options or duplicate certificate numbers.
    """
    if total is None:
        items = list(items)
        total = len(items)
    formats = tuple(formats)
    for fmt in formats:
        _check_options(fmt, lang, mode, width_mm, dpi)
    if len(set(formats)) != len(formats):
        raise LabelError("formats has duplicates")
    seen: set[str] = set()
    buf = io.BytesIO() if out is None else out
    with zipfile.ZipFile(buf, "w") as zf:
        for i, data in enumerate(items):
            (stem,) = {n.rsplit(".", 1)[0] for n in archive_names([data], formats[:1])}
            if stem in seen:
                raise LabelError(f"two labels share the file name {stem!r} (same certificate number)")
            seen.add(stem)
            for fmt in formats:
                try:
                    label = render_label(data, fmt=fmt, lang=lang, mode=mode, width_mm=width_mm, dpi=dpi,
                                         variant=variant, colour=colour,
                                         print_=print_ if fmt == "pdf" else "rgb")
                except LabelError as err:
                    raise LabelError(f"{data.certificate_number}: {err.detail}", type=err.type) from err
                if warnings is not None and fmt == formats[0]:
                    warnings.extend((data.certificate_number, w) for w in label.warnings)
                info = zipfile.ZipInfo(f"{stem}.{fmt}", date_time=ZIP_TIME)
                info.create_system = 3
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED if fmt == "svg" else zipfile.ZIP_STORED
                zf.writestr(info, label.content)
            if progress is not None:
                progress(i + 1, total)
    return buf.getvalue() if out is None else None
