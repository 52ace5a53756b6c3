"""The registry's transparency log, as a client checks it: RFC 9162 §2.1 Merkle trees, C2SP
signed notes and checkpoints, C2SP tlog-tiles paths and entry bundles.

Standard library and ``cryptography`` only; the registry builds its log with the same functions,
so the hashing has one definition.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ._errors import VerifierError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ED25519_ALG = 0x01


class LogProofInvalid(VerifierError):
    """A transparency-log proof, tile, entry bundle or checkpoint does not check out."""

    code = "LOG_PROOF_INVALID"


# --------------------------------------------------------------------------------------------
# RFC 9162 §2.1 hashing


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 ‖ entry)`` (RFC 9162 §2.1.1). Raises nothing."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)`` (RFC 9162 §2.1.1). Raises nothing."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf (or node) hashes, iteratively: pairs level by level, the odd one carried up."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


RangeHash = Callable[[int, int], bytes]
"""``mth(lo, hi)``: the hash of leaves ``[lo, hi)`` where the range is an RFC 9162 subtree."""


def inclusion_path(index: int, size: int, mth: RangeHash) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, with subtree hashes from ``mth``; leaf-side first."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(mth(lo + k, hi))
            hi = lo + k
        else:
            path.append(mth(lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_path(first: int, second: int, mth: RangeHash) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 with subtree hashes from ``mth``."""
    if not 0 < first <= second:
        raise ValueError("sizes out of order")
    out: list[bytes] = []

    def subproof(m: int, lo: int, hi: int, whole: bool) -> None:
        n = hi - lo
        if m == n:
            if not whole:
                out.append(mth(lo, hi))
            return
        k = _split(n)
        if m <= k:
            subproof(m, lo, lo + k, whole)
            out.append(mth(lo + k, hi))
        else:
            subproof(m - k, lo + k, hi, False)
            out.append(mth(lo, lo + k))

    if first < second:
        subproof(first, 0, second, True)
    return out


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: check that ``leaf`` is at ``index`` in the tree of ``size`` with ``root``.

    Raises LogProofInvalid when it is not.
    """
    if not 0 <= index < size:
        raise LogProofInvalid("the index is not inside the tree")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise LogProofInvalid("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogProofInvalid("the inclusion proof is too short")
    if r != root:
        raise LogProofInvalid("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(first: int, second: int, proof: Sequence[bytes], first_root: bytes,
                       second_root: bytes) -> None:
    """RFC 9162 §2.1.4.2: check that the tree of ``second`` leaves extends the tree of ``first``.

    Raises LogProofInvalid when it does not (a fork, a rollback or a bad proof).
    """
    if first > second:
        raise LogProofInvalid("the second tree is smaller than the first (rolled back)")
    if first == second:
        if proof:
            raise LogProofInvalid("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise LogProofInvalid("two different roots for one tree size (a fork)")
        return
    if first == 0:
        if proof:
            raise LogProofInvalid("a proof from the empty tree must be empty")
        return
    if not proof:
        raise LogProofInvalid("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a subtree of the proof
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogProofInvalid("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogProofInvalid("the consistency proof is too short")
    if fr != first_root or sr != second_root:
        raise LogProofInvalid("the trees are not consistent (a fork or a rewritten history)")


class Frontier:
    """The roots of the perfect subtrees of a tree so far: extend it leaf by leaf, read its root.

    A monitor keeps this between runs: appending the new entries to the old frontier and reaching
    the new checkpoint's root proves the new tree extends the old one.
    """

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise LogProofInvalid("the saved frontier does not match its size")

    def append(self, leaf: bytes) -> None:
        h = leaf
        n = self.size
        while n & 1:
            h = node_hash(self.hashes.pop(), h)
            n >>= 1
        self.hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r


# --------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON (the subset the log writes: strings, integers, booleans, null, lists, objects)


_FLAT = frozenset({str, int, bool, type(None)})  # exact types: a float is refused by _jcs
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value) -> bytes:
    """RFC 8785 JCS of ``value``; raises ValueError for floats, which log entries never hold."""
    if type(value) is dict and _FLAT.issuperset(map(type, value.values())):
        try:
            keys = "".join(value)
        except TypeError:  # a key that is not a string: JCS has none
            keys = None
        # Flat objects with keys inside the BMP (every log event): code-point order is UTF-16 order,
        # and json's escaping with ensure_ascii=False is JCS's.
        if keys is not None and (keys.isascii() or max(keys) <= "\uffff"):
            return _ENCODER.encode(value).encode()
    return _jcs(value).encode()


def _jcs(value) -> str:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _jcs(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, float):
        raise ValueError("log entries hold no floating-point numbers")
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# C2SP signed-note and tlog-checkpoint


def note_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id: the first bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The note verifier key ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``."""
    return f"{name}+{note_key_id(name, public_key).hex()}+" + base64.b64encode(
        bytes([ED25519_ALG]) + public_key).decode()


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Read a verifier key string; raises LogProofInvalid when it is malformed."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not parts[0]:
            raise LogProofInvalid("a note verifier key is <name>+<key id>+<key>")
        name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
            key_id = bytes.fromhex(hex_id)
        except ValueError as err:
            raise LogProofInvalid("the note verifier key is not hex and base64") from err
        if len(raw) != 33 or raw[0] != ED25519_ALG or len(key_id) != 4:
            raise LogProofInvalid("the note verifier key is not an Ed25519 key")
        if note_key_id(name, raw[1:]) != key_id:
            raise LogProofInvalid("the note verifier key's id does not match its name and key")
        return cls(name, key_id, raw[1:])

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)


def sign_note(body: str, name: str, sign: Callable[[bytes], bytes], public_key: bytes) -> str:
    """A signed note: ``body`` (ending in a newline), a blank line and one signature line."""
    if not body.endswith("\n"):
        raise ValueError("a note body ends with a newline")
    sig = base64.b64encode(note_key_id(name, public_key) + sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {sig}\n"


def open_note(text: str, verifier: NoteVerifier) -> str:
    """The body of a signed note after checking ``verifier``'s signature on it.

    Raises LogProofInvalid when the note is malformed or carries no valid signature by that key.
    """
    if not text.endswith("\n") or "\n\n" not in text:
        raise LogProofInvalid("not a signed note")
    cut = text.rindex("\n\n")
    body, sigs = text[:cut + 1], text[cut + 2:]
    found = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise LogProofInvalid("a signature line of the note is malformed")
        try:
            name, b64 = line[2:].split(" ")
            raw = base64.b64decode(b64, validate=True)
        except ValueError as err:
            raise LogProofInvalid("a signature line of the note is malformed") from err
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(raw[4:], body.encode())
        except InvalidSignature as err:
            raise LogProofInvalid("the note's signature is not valid") from err
        found = True
    if not found:
        raise LogProofInvalid(f"the note carries no signature by {verifier.name}")
    return body


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str = ""

    @classmethod
    def parse_body(cls, body: str, text: str = "") -> Checkpoint:
        """Read a checkpoint body (origin, size, base64 root, extension lines)."""
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise LogProofInvalid("a checkpoint has an origin, a size and a root hash")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise LogProofInvalid("the checkpoint's origin or size is malformed")
        try:
            raw = base64.b64decode(root, validate=True)
        except ValueError as err:
            raise LogProofInvalid("the checkpoint's root hash is not base64") from err
        if len(raw) != 32:
            raise LogProofInvalid("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), raw, text)

    @property
    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def verify_checkpoint(text: str, verifier: NoteVerifier | str, *, origin: str | None = None) -> Checkpoint:
    """Check a C2SP checkpoint's signature and read it.

    Raises LogProofInvalid when the signature, the format or the origin (which must equal the
    verifier key's name, or ``origin`` when given) is wrong.
    """
    if isinstance(verifier, str):
        verifier = NoteVerifier.parse(verifier)
    cp = Checkpoint.parse_body(open_note(text, verifier), text)
    if cp.origin != (origin or verifier.name):
        raise LogProofInvalid(f"the checkpoint is for {cp.origin!r}, not {origin or verifier.name!r}")
    return cp


# --------------------------------------------------------------------------------------------
# C2SP tlog-tiles


def tile_index_path(n: int) -> str:
    """``1234067`` → ``x001/x234/067``: 3-digit elements, all but the last prefixed with ``x``."""
    if n < 0:
        raise ValueError("negative tile index")
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    parts = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + p for p in parts[:-1]), parts[-1]])


def parse_tile_index(path: str) -> int:
    """The inverse of :func:`tile_index_path`; raises ValueError for anything else."""
    parts = path.split("/")
    if not parts or any(len(p) != 4 or p[0] != "x" or not p[1:].isdigit() for p in parts[:-1]) \
            or len(parts[-1]) != 3 or not parts[-1].isdigit():
        raise ValueError("not a tile index path")
    if len(parts) > 1 and parts[0] == "x000":
        raise ValueError("tile index paths have no leading zero elements")
    return int("".join(p.lstrip("x") for p in parts))


def tile_path(level: int | str, n: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (``level`` ``"entries"`` for entry bundles)."""
    path = f"tile/{level}/{tile_index_path(n)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def tile_hashes(data: bytes, width: int) -> list[bytes]:
    """Split a hash tile into its ``width`` hashes; raises LogProofInvalid on a wrong length."""
    if len(data) != 32 * width:
        raise LogProofInvalid(f"a tile of width {width} has {len(data)} bytes")
    return [data[i:i + 32] for i in range(0, len(data), 32)]


def bundle_entries(data: bytes) -> list[bytes]:
    """Split an entry bundle (each entry prefixed by its 2-byte big-endian length)."""
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise LogProofInvalid("an entry bundle ends inside a length prefix")
        n = int.from_bytes(data[i:i + 2], "big")
        if i + 2 + n > len(data):
            raise LogProofInvalid("an entry bundle ends inside an entry")
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle of ``entries``."""
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


def b64_hashes(hashes: Iterable[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def unb64_hashes(values: Iterable[str]) -> list[bytes]:
    """Decode a list of base64 hashes; raises LogProofInvalid when one is not 32 bytes of base64."""
    out = []
    for v in values:
        try:
            raw = base64.b64decode(v, validate=True)
        except (ValueError, TypeError) as err:
            raise LogProofInvalid("a proof hash is not base64") from err
        if len(raw) != 32:
            raise LogProofInvalid("a proof hash is not 32 bytes")
        out.append(raw)
    return out


def verify_log_claim(claim: dict, leaf: bytes, verifier: NoteVerifier | str) -> Checkpoint:
    """Check a ``log: {index, checkpoint, inclusionProof}`` claim for the entry whose leaf hash is ``leaf``.

    Raises LogProofInvalid when the checkpoint's signature or the inclusion proof is wrong.
    """
    try:
        index = int(claim["index"])
        text = claim["checkpoint"]
        proof = unb64_hashes(claim["inclusionProof"])
    except (KeyError, TypeError, ValueError) as err:
        raise LogProofInvalid("the log claim lacks index, checkpoint or inclusionProof") from err
    cp = verify_checkpoint(text, verifier)
    verify_inclusion(leaf, index, cp.size, proof, cp.root)
    return cp


LogCheckpoint = Checkpoint
log_leaf_hash = leaf_hash
