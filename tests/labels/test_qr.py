"""The fast QR path builds exactly qrcode's symbols and chooses masks by ISO/IEC 18004."""

from __future__ import annotations

import random
import re

import pytest
import qrcode
from qrcode import constants, util

from registry.labels import _qr

URL = "https://labels.example.org/v/0c6f5b1e-4f7a-5b8e-9d51-3b5b1c1d2e3f"
rng = random.Random(20261124)
SEGMENTS = [
    (("byte", "hi"),),                                                   # v1
    (("byte", URL),),                                                    # v5
    (("alphanumeric", "HTTPS://LABELS.EXAMPLE.ORG/V/ABC"), ("numeric", "0123456789")),
    (("byte", URL + "#"), ("numeric", "1" + "".join(rng.choice("0123456789") for _ in range(700)))),
    (("byte", URL + "#"), ("numeric", "1" + "".join(rng.choice("0123456789") for _ in range(1500)))),
    (("byte", "产品碳足迹 " * 20),),                                       # UTF-8 bytes
]


def qrcode_matrix(segments, version, mask, ec=constants.ERROR_CORRECT_M):
    qr = qrcode.QRCode(version=version, error_correction=ec, mask_pattern=mask)
    for mode, text in segments:
        raw = text.encode() if mode == "byte" else text
        qr.add_data(util.QRData(raw, mode=_qr.MODES[mode], check_data=mode != "byte"))
    qr.make(fit=False)
    return [[bool(x) for x in row] for row in qr.modules]


def reference_penalty(m: list[list[bool]]) -> int:
    """ISO/IEC 18004:2015 §7.8.3, written plainly over lists."""
    n = len(m)
    score = 0
    lines = [row for row in m] + [[m[r][c] for r in range(n)] for c in range(n)]
    for line in lines:  # N1
        run = 1
        for i in range(1, n + 1):
            if i < n and line[i] == line[i - 1]:
                run += 1
            else:
                if run >= 5:
                    score += 3 + (run - 5)
                run = 1
    for r in range(n - 1):  # N2
        for c in range(n - 1):
            if m[r][c] == m[r][c + 1] == m[r + 1][c] == m[r + 1][c + 1]:
                score += 3
    patterns = ([1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1])
    for line in lines:  # N3
        bits = [int(x) for x in line]
        for i in range(n - 10):
            if bits[i:i + 11] in patterns:
                score += 40
    dark = sum(map(sum, m))  # N4
    score += 10 * int(abs(dark * 100 / (n * n) - 50) // 5)
    return score


@pytest.mark.parametrize("segments", SEGMENTS, ids=lambda s: f"{len(s)}seg")
def test_matrix_equals_qrcode_for_every_mask(segments):
    version = _qr.min_version(segments)
    for mask in range(8):
        mine = _qr.encode(segments, mask=mask, max_version=40)
        assert mine.version == version
        assert mine.to_lists() == qrcode_matrix(segments, version, mask)


@pytest.mark.parametrize("segments", SEGMENTS[:4], ids=lambda s: f"{len(s)}seg")
def test_mask_choice_minimises_iso_penalty(segments):
    version = _qr.min_version(segments)
    scores = [reference_penalty(qrcode_matrix(segments, version, m)) for m in range(8)]
    chosen = _qr.encode(segments, max_version=40)
    assert chosen.mask == scores.index(min(scores))
    layout = _qr._layout(version)
    for m in (0, 3, 7):
        sym = _qr.encode(segments, mask=m, max_version=40)
        n, s = sym.size, sym.size + 1
        row = sum(r << (i * s) for i, r in enumerate(sym.rows))
        col = sum(((sym.rows[r] >> c) & 1) << (c * s + r) for r in range(n) for c in range(n))
        assert _qr._penalty(row, col, layout.valid_row, layout.valid_col, s, n * n) == scores[m]


def test_min_version_matches_qrcode_best_fit():
    for segments in SEGMENTS:
        qr = qrcode.QRCode(error_correction=constants.ERROR_CORRECT_M)
        for mode, text in segments:
            raw = text.encode() if mode == "byte" else text
            qr.add_data(util.QRData(raw, mode=_qr.MODES[mode], check_data=mode != "byte"))
        assert _qr.min_version(segments) == qr.best_fit()


def test_codewords_equal_qrcode_create_data():
    for segments in SEGMENTS:
        version = _qr.min_version(segments)
        data = [util.QRData(t.encode() if m == "byte" else t, mode=_qr.MODES[m],
                            check_data=m != "byte") for m, t in segments]
        expected = util.create_data(version, constants.ERROR_CORRECT_M, data)
        bits = _qr._codeword_bits(segments, version, constants.ERROR_CORRECT_M)
        assert bits == "".join(f"{b:08b}" for b in expected)


def test_refuses_above_max_version():
    big = (("numeric", "1" * 2000),)
    with pytest.raises(_qr.QRTooLarge) as err:
        _qr.encode(big, max_version=22)
    assert err.value.needed_version == 23  # v22-M holds 1,872 digits
    with pytest.raises(ValueError, match="digits only"):
        _qr.encode((("numeric", "12a"),))


def test_svg_path_runs_rebuild_the_matrix():
    sym = _qr.encode(SEGMENTS[3])
    grid = [[False] * sym.size for _ in range(sym.size)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", _qr.svg_path(sym, quiet=4)):
        for c in range(int(x) - 4, int(x) - 4 + int(w)):
            grid[int(y) - 4][c] = True
    assert grid == sym.to_lists()


def test_cache_returns_same_object_and_clears():
    _qr.encode.cache_clear()
    a = _qr.encode(SEGMENTS[1])
    assert _qr.encode(SEGMENTS[1]) is a
    _qr.encode.cache_clear()
    b = _qr.encode(SEGMENTS[1])
    assert b is not a and b == a
