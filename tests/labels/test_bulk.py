"""Print sheets and archives: layout, progress callbacks, reproducible bytes."""

from __future__ import annotations

import io
import zipfile

import pytest

from registry.labels import LabelError, archive_names, render_archive, render_label, render_sheet

from .conftest import KIND_GRADES


@pytest.fixture(scope="module")
def items(signed):
    return [signed(kind, grade).data for kind, grade in KIND_GRADES]


def test_sheet_is_a4_pages_with_progress(items):
    from pypdf import PdfReader

    calls = []
    pdf = render_sheet(items, lang="zh-en", mode="link", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i + 1, len(items)) for i in range(len(items))]
    reader = PdfReader(io.BytesIO(pdf))
    # 15 labels of 60 × 90 mm: 3 × 3 per A4 page.
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(210 * 72 / 25.4, abs=0.01)
        assert float(page.mediabox.height) == pytest.approx(297 * 72 / 25.4, abs=0.01)
    assert render_sheet(items, lang="zh-en", mode="link") == pdf


def test_sheet_offline_and_limits(items):
    from pypdf import PdfReader

    pdf = render_sheet(items[:3], mode="offline", width_mm=90)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # 90 × 76 mm: 2 × 3 per page
    with pytest.raises(LabelError, match="does not fit"):
        render_sheet(items[:1], width_mm=300)
    with pytest.raises(LabelError, match="no labels"):
        render_sheet([])


def test_archive_names_contents_and_reproducibility(items):
    some = items[:4]
    calls = []
    blob = render_archive(some, formats=("svg", "png", "pdf"), lang="en", mode="link",
                          progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    zf = zipfile.ZipFile(io.BytesIO(blob))
    names = zf.namelist()
    assert names == archive_names(some) == [
        f"{d.certificate_number}.{ext}" for d in some for ext in ("svg", "png", "pdf")]
    for info in zf.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    d = some[0]
    assert zf.read(f"{d.certificate_number}.png") == render_label(
        d, fmt="png", lang="en", mode="link").content
    assert render_archive(some, formats=("svg", "png", "pdf"), lang="en", mode="link") == blob


def test_archive_refuses_duplicate_names(items):
    with pytest.raises(LabelError, match="share the file name"):
        render_archive([items[0], items[0]], formats=("svg",))
