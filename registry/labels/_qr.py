"""QR matrices for labels: qrcode's encoder, a fast mask choice, and an SVG path of the modules.

``qrcode`` builds the codewords (segments, Reed-Solomon) and the function patterns. Choosing
the mask with ``qrcode`` means placing the data eight times and scoring each matrix in pure
Python, about three quarters of its run time (shared/PERF-NOTES.md). Here every matrix is a
Python integer with one bit per module (rows packed with a zero separator bit, and a second
integer with the columns packed the same way), so each of the eight ISO/IEC 18004 penalty
scores is a few dozen big-integer shifts, ANDs and popcounts. The data is placed once, by a
per-version permutation. The result is the same matrix ``qrcode`` produces for the chosen mask
(tests/labels/test_qr.py checks that), and the penalty is the one ISO/IEC 18004 §7.8.3 defines,
computed on the finished symbol including its format information.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from functools import lru_cache

from qrcode import QRCode, base, constants, util

__all__ = ["QRMatrix", "QRTooLarge", "encode", "segment_bits", "min_version", "svg_path",
           "MODES", "EC_LEVELS"]

MODES = {"byte": util.MODE_8BIT_BYTE, "alphanumeric": util.MODE_ALPHA_NUM,
         "numeric": util.MODE_NUMBER}
EC_LEVELS = {"L": constants.ERROR_CORRECT_L, "M": constants.ERROR_CORRECT_M,
             "Q": constants.ERROR_CORRECT_Q, "H": constants.ERROR_CORRECT_H}
_ALNUM = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


class QRTooLarge(ValueError):
    """The data does not fit in a QR code of the largest version allowed."""

    def __init__(self, message: str, *, needed_version: int | None):
        super().__init__(message)
        self.needed_version = needed_version


@dataclass(frozen=True)
class QRMatrix:
    """A finished QR symbol (no quiet zone): ``rows[r]`` bit ``c`` is the module at (r, c)."""

    version: int
    size: int
    mask: int
    ec: str
    rows: tuple[int, ...]
    segments: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.segments)

    def dark(self, r: int, c: int) -> bool:
        return bool(self.rows[r] >> c & 1)

    def to_lists(self) -> list[list[bool]]:
        return [[bool(row >> c & 1) for c in range(self.size)] for row in self.rows]


def _check_segment(mode: str, text: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown QR segment mode {mode!r}")
    if mode == "numeric" and not (text.isascii() and text.isdigit()):
        raise ValueError("a numeric QR segment holds digits only")
    if mode == "alphanumeric" and not set(text) <= _ALNUM:
        raise ValueError("an alphanumeric QR segment holds 0-9 A-Z space $%*+-./: only")


def segment_bits(segments, version: int) -> int:
    """Bits the segments need at ``version`` (mode indicators, counts and data)."""
    sizes = util.mode_sizes_for_version(version)
    bits = 0
    for mode, text in segments:
        m = MODES[mode]
        if m == util.MODE_8BIT_BYTE:
            n = len(text.encode("utf-8"))
            data = 8 * n
        elif m == util.MODE_ALPHA_NUM:
            n = len(text)
            data = 11 * (n // 2) + 6 * (n % 2)
        else:
            n = len(text)
            data = 10 * (n // 3) + (0, 4, 7)[n % 3]
        if n >= 1 << sizes[m]:
            return 1 << 30  # the character count does not fit the count field
        bits += 4 + sizes[m] + data
    return bits


@lru_cache(maxsize=None)
def _capacity_bits(version: int, ec: int) -> int:
    return 8 * sum(block.data_count for block in base.rs_blocks(version, ec))


def min_version(segments, ec: str = "M") -> int | None:
    """The smallest version (1-40) whose capacity at ``ec`` holds the segments, or None."""
    level = EC_LEVELS[ec]
    for version in range(1, 41):
        if segment_bits(segments, version) <= _capacity_bits(version, level):
            return version
    return None


# ---------------------------------------------------------------------------------------------
# Codewords: segments → data bits → Reed-Solomon blocks → interleaved bit string.
# Same result as qrcode.util.create_data (tests compare), without its bit-by-bit buffer and
# polynomial objects: the RS remainder is a shift register held in one integer.
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _rs_table(ec_count: int) -> tuple[int, ...]:
    """For each feedback byte f, the generator's coefficients × f packed big-endian."""
    gen = [1]
    for i in range(ec_count):  # ∏ (x - α^i)
        nxt = [0] * (len(gen) + 1)
        for j, coef in enumerate(gen):
            nxt[j] ^= coef
            if coef:
                nxt[j + 1] ^= base.EXP_TABLE[(base.LOG_TABLE[coef] + i) % 255]
        gen = nxt
    table = []
    for f in range(256):
        if f == 0:
            table.append(0)
            continue
        lf = base.LOG_TABLE[f]
        row = bytes(base.EXP_TABLE[(base.LOG_TABLE[g] + lf) % 255] if g else 0 for g in gen[1:])
        table.append(int.from_bytes(row, "big"))
    return tuple(table)


def _rs_remainder(data: bytes, ec_count: int) -> bytes:
    table = _rs_table(ec_count)
    shift = 8 * (ec_count - 1)
    full = (1 << (8 * ec_count)) - 1
    rem = 0
    for byte in data:
        rem = ((rem << 8) & full) ^ table[byte ^ (rem >> shift)]
    return rem.to_bytes(ec_count, "big")


def _codeword_bits(segments, version: int, level: int) -> str:
    sizes = util.mode_sizes_for_version(version)
    bits = []
    for mode, text in segments:
        m = MODES[mode]
        if m == util.MODE_8BIT_BYTE:
            raw = text.encode("utf-8")
            bits.append(f"{m:04b}{len(raw):0{sizes[m]}b}")
            if raw:
                bits.append(f"{int.from_bytes(raw, 'big'):0{8 * len(raw)}b}")
        elif m == util.MODE_NUMBER:
            bits.append(f"{m:04b}{len(text):0{sizes[m]}b}")
            for i in range(0, len(text), 3):
                chunk = text[i:i + 3]
                bits.append(f"{int(chunk):0{(0, 4, 7, 10)[len(chunk)]}b}")
        else:
            bits.append(f"{m:04b}{len(text):0{sizes[m]}b}")
            for i in range(0, len(text), 2):
                pair = text[i:i + 2]
                if len(pair) == 2:
                    bits.append(f"{util.ALPHA_NUM.find(pair[0].encode()) * 45 + util.ALPHA_NUM.find(pair[1].encode()):011b}")
                else:
                    bits.append(f"{util.ALPHA_NUM.find(pair.encode()):06b}")
    stream = "".join(bits)
    capacity = _capacity_bits(version, level)
    stream += "0" * min(4, capacity - len(stream))       # terminator
    stream += "0" * (-len(stream) % 8)                    # byte boundary
    pad = capacity // 8 - len(stream) // 8
    data = int(stream, 2).to_bytes(len(stream) // 8, "big") + (b"\xec\x11" * pad)[:pad]

    blocks = base.rs_blocks(version, level)
    dc_blocks, ec_blocks = [], []
    offset = 0
    for block in blocks:
        chunk = data[offset:offset + block.data_count]
        offset += block.data_count
        dc_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, block.total_count - block.data_count))
    out = bytearray()
    for group in (dc_blocks, ec_blocks):
        for i in range(max(map(len, group))):
            out.extend(b[i] for b in group if i < len(b))
    return f"{int.from_bytes(out, 'big'):0{8 * len(out)}b}"


# ---------------------------------------------------------------------------------------------
# Per-version layout, computed once with qrcode's own pattern code.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    n: int
    data_modules: int              # modules that carry codewords (and remainder bits)
    row_perm: operator.itemgetter  # padded row-major grid → index into data bits ('0' sentinel)
    col_perm: operator.itemgetter  # padded column-major grid → same
    func_row: int                  # function pattern modules that are dark (incl. version info)
    func_col: int
    valid_row: int                 # every module (separator bits clear)
    valid_col: int
    mask_row: tuple[int, ...]      # per mask: data modules the mask inverts
    mask_col: tuple[int, ...]
    fmt_row: dict                  # (ec, mask) → dark format-information modules
    fmt_col: dict


def _pack(grid: list[list], n: int, *, transpose: bool = False) -> int:
    """Pack a boolean grid into one int: bit r*(n+1)+c (or c*(n+1)+r when transposed)."""
    s = n + 1
    value = 0
    for r in range(n):
        for c in range(n):
            if grid[r][c]:
                value |= 1 << ((c * s + r) if transpose else (r * s + c))
    return value


@lru_cache(maxsize=None)
def _layout(version: int) -> _Layout:
    n = version * 4 + 17
    qr = QRCode(version=version)
    qr.modules_count = n
    qr.modules = [[None] * n for _ in range(n)]
    qr.setup_position_probe_pattern(0, 0)
    qr.setup_position_probe_pattern(n - 7, 0)
    qr.setup_position_probe_pattern(0, n - 7)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    base_patterns = [row[:] for row in qr.modules]
    if version >= 7:
        qr.setup_type_number(False)
    qr.setup_type_info(True, 0)  # reserves the format area (all light, dark module light too)
    reserved = [[m is not None for m in row] for row in qr.modules]
    func_dark = [[bool(m) for m in row] for row in qr.modules]  # format area is light here

    # Data module placement order (ISO/IEC 18004 §7.7.3; qrcode's map_data walk).
    order = []
    row, inc = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if not reserved[row][c]:
                    order.append((row, c))
            row += inc
            if row < 0 or row >= n:
                row -= inc
                inc = -inc
                break
    index = {pos: i for i, pos in enumerate(order)}
    s = n + 1
    sentinel = -1  # indexes the '0' appended after the data bits
    row_idx, col_idx = [], []
    for r in range(n):
        row_idx.extend(index.get((r, c), sentinel) for c in range(n))
        row_idx.append(sentinel)
    for c in range(n):
        col_idx.extend(index.get((r, c), sentinel) for r in range(n))
        col_idx.append(sentinel)
    # Reverse so that str → int(…, 2) puts grid index 0 at bit 0.
    row_perm = operator.itemgetter(*reversed(row_idx))
    col_perm = operator.itemgetter(*reversed(col_idx))

    masks_row, masks_col = [], []
    for m in range(8):
        f = util.mask_func(m)
        g = [[(not reserved[r][c]) and f(r, c) for c in range(n)] for r in range(n)]
        masks_row.append(_pack(g, n))
        masks_col.append(_pack(g, n, transpose=True))

    fmt_row, fmt_col = {}, {}
    for ec in EC_LEVELS.values():
        for m in range(8):
            qr.modules = [r[:] for r in base_patterns]
            qr.error_correction = ec
            qr.setup_type_info(False, m)
            g = [[bool(qr.modules[r][c]) and base_patterns[r][c] is None for c in range(n)]
                 for r in range(n)]
            fmt_row[ec, m] = _pack(g, n)
            fmt_col[ec, m] = _pack(g, n, transpose=True)

    full = [[True] * n for _ in range(n)]
    del s
    return _Layout(n=n, data_modules=len(order), row_perm=row_perm, col_perm=col_perm,
                   func_row=_pack(func_dark, n), func_col=_pack(func_dark, n, transpose=True),
                   valid_row=_pack(full, n), valid_col=_pack(full, n, transpose=True),
                   mask_row=tuple(masks_row), mask_col=tuple(masks_col),
                   fmt_row=fmt_row, fmt_col=fmt_col)


# ---------------------------------------------------------------------------------------------
# Penalty (ISO/IEC 18004:2015 §7.8.3), on packed integers.
# ---------------------------------------------------------------------------------------------

_FINDER_LIKE = ("10111010000", "00001011101")


def _penalty(dark_row: int, dark_col: int, valid_row: int, valid_col: int, s: int,
             total: int) -> int:
    score = 0
    light_row = valid_row & ~dark_row
    light_col = valid_col & ~dark_col
    for a in (dark_row, light_row, dark_col, light_col):
        # N1: runs of ≥ 5 same-colour modules score 3 + (length - 5) = (length - 4) + 2.
        five = a & (a >> 1) & (a >> 2) & (a >> 3) & (a >> 4)
        score += five.bit_count() + 2 * (five & ~(five << 1)).bit_count()
    for a in (dark_row, light_row):
        # N2: 2×2 blocks of one colour, 3 each.
        pairs = a & (a >> 1)
        score += 3 * (pairs & (pairs >> s)).bit_count()
    for dark, light in ((dark_row, light_row), (dark_col, light_col)):
        # N3: 1:1:3:1:1 finder-like pattern with 4 light modules on one side, 40 each.
        for pattern in _FINDER_LIKE:
            hit = -1
            for k, bit in enumerate(pattern):
                hit &= (dark if bit == "1" else light) >> k
            score += 40 * hit.bit_count()
    # N4: 10 points per full 5 % the dark proportion departs from 50 %.
    score += 10 * (abs(20 * dark_row.bit_count() - 10 * total) // total)
    return score


def _choose(layout: _Layout, data_bits: str, ec: int, forced_mask: int | None):
    ext = data_bits.ljust(layout.data_modules, "0") + "0"
    d_row = int("".join(layout.row_perm(ext)), 2) | layout.func_row
    d_col = int("".join(layout.col_perm(ext)), 2) | layout.func_col
    n = layout.n
    best = None
    for m in (range(8) if forced_mask is None else (forced_mask,)):
        x_row = (d_row ^ layout.mask_row[m]) | layout.fmt_row[ec, m]
        if forced_mask is not None:
            return m, x_row
        x_col = (d_col ^ layout.mask_col[m]) | layout.fmt_col[ec, m]
        score = _penalty(x_row, x_col, layout.valid_row, layout.valid_col, n + 1, n * n)
        if best is None or score < best[0]:
            best = (score, m, x_row)
    return best[1], best[2]


@lru_cache(maxsize=1024)
def encode(segments: tuple[tuple[str, str], ...], *, ec: str = "M", max_version: int = 40,
           mask: int | None = None) -> QRMatrix:
    """Encode ``segments`` ((mode, text) pairs, in order) in the smallest version that fits.

    Results are cached by arguments (an LRU of 1,024 matrices); ``encode.cache_clear()``
    empties it.

    Raises:
        ValueError: for an unknown mode or text the mode cannot hold.
        QRTooLarge: if no version up to ``max_version`` holds the data.
    """
    for mode, text in segments:
        _check_segment(mode, text)
    level = EC_LEVELS[ec]
    version = min_version(segments, ec)
    if version is None or version > max_version:
        raise QRTooLarge(
            f"the data needs QR version {version or '> 40'} at error correction {ec}; "
            f"the limit is version {max_version}", needed_version=version)
    data_bits = _codeword_bits(segments, version, level)
    layout = _layout(version)
    chosen, packed = _choose(layout, data_bits, level, mask)
    n, s = layout.n, layout.n + 1
    full = (1 << n) - 1
    rows = tuple((packed >> (r * s)) & full for r in range(n))
    return QRMatrix(version=version, size=n, mask=chosen, ec=ec, rows=rows,
                    segments=tuple(segments))


_RUN = re.compile("1+")


def svg_path(matrix: QRMatrix, quiet: int = 4) -> str:
    """Path data for the dark modules in module units, offset by the quiet zone.

    One subpath per horizontal run of dark modules (``M x y h w v1 h-w z``).
    """
    parts = []
    n = matrix.size
    for r, row in enumerate(matrix.rows):
        if not row:
            continue
        bits = format(row, f"0{n}b")[::-1]
        y = r + quiet
        for run in _RUN.finditer(bits):
            w = run.end() - run.start()
            parts.append(f"M{run.start() + quiet} {y}h{w}v1h-{w}z")
    return "".join(parts)
