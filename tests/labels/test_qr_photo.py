"""The smallest offline code we allow still scans from a (simulated) phone photo."""

from __future__ import annotations

import pytest

from registry.labels import LabelError, render_label
from registry.labels._render import _designs, render_svg
from registry.labels.photo import CAMERAS, CONDITIONS, decodes, photo
from verifier.offline import extract_jws


@pytest.mark.parametrize("kind,grade", [("carbon-footprint", "B"), ("carbon-neutral", "3")])
def test_offline_code_at_the_minimum_size_decodes_from_degraded_photos(kind, grade, signed):
    s = signed(kind, grade)
    least = _designs()["min_offline_module_mm"]
    with pytest.raises(LabelError) as err:
        render_label(s.data, fmt="svg", mode="offline", width_mm=80)
    assert err.value.type == "label-too-small"
    width = err.value.extra["minWidthMm"]
    if "too dense" in err.value.detail:
        assert f"below the {least} mm measured" in err.value.detail
    r = render_svg(s.data, "zh-en", "offline", float(width))
    module_mm = r.qr_box[2] / (r.qr.size + 8) * r.width_mm / r.viewbox[0]
    assert least <= module_mm < least * 1.1
    hard = {c.name: c for c in CONDITIONS}
    for name in ("all at once", "blur 0.1 mm", "perspective 20 %"):
        for camera in CAMERAS:
            image = photo(r.qr, module_mm, hard[name], camera_px_per_mm=camera)
            assert decodes(image, r.qr.text), (name, camera)
    assert extract_jws(r.qr.text) == s.token


def test_denser_than_measured_is_refused_with_the_width_that_works(signed):
    s = signed("reduced-carbon", "2")  # version 19
    with pytest.raises(LabelError) as err:
        render_label(s.data, fmt="pdf", mode="offline", width_mm=86)
    assert "too dense" in err.value.detail and "mode=link" in err.value.detail
    assert render_label(s.data, fmt="svg", mode="offline", width_mm=err.value.extra["minWidthMm"]).content
