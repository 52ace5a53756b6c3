"""The log's Merkle algorithms against an independent, naive RFC 9162 implementation."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier import _tlog as t


def naive_mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, recursively, over entries."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    def sub(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [naive_mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return sub(m, d[:k], b) + [naive_mth(d[k:])]
        return sub(m - k, d[k:], False) + [naive_mth(d[:k])]
    return sub(m, d, True)


ENTRIES = [f"entry {i}".encode() for i in range(300)]
LEAVES = [t.leaf_hash(e) for e in ENTRIES]


def fast_mth(lo: int, hi: int) -> bytes:
    return t.root_of(LEAVES[lo:hi])


def test_roots_paths_and_proofs_for_every_size_1_to_300():
    roots = {n: naive_mth(ENTRIES[:n]) for n in range(1, 301)}
    for n in range(1, 301):
        assert t.root_of(LEAVES[:n]) == roots[n]
        frontier = t.Frontier()
        for leaf in LEAVES[:n]:
            frontier.append(leaf)
        assert frontier.root() == roots[n]
        for m in {0, n - 1, n // 2, random.randrange(n)}:
            path = t.inclusion_path(m, n, fast_mth)
            assert path == naive_path(m, ENTRIES[:n])
            t.verify_inclusion(LEAVES[m], m, n, path, roots[n])
            if path:
                bad = list(path)
                bad[-1] = bytes(32)
                with pytest.raises(t.LogProofInvalid):
                    t.verify_inclusion(LEAVES[m], m, n, bad, roots[n])
            with pytest.raises(t.LogProofInvalid):
                t.verify_inclusion(LEAVES[(m + 1) % 300], m, n, path, roots[n])
    rng = random.Random(9162)
    pairs = [(rng.randint(1, 300), rng.randint(1, 300)) for _ in range(600)]
    pairs += [(m, 300) for m in range(1, 301)]
    for a, b in pairs:
        m, n = min(a, b), max(a, b)
        proof = t.consistency_path(m, n, fast_mth)
        assert proof == naive_proof(m, ENTRIES[:n])
        t.verify_consistency(m, n, proof, roots[m], roots[n])
        if m < n:
            with pytest.raises(t.LogProofInvalid):  # a fork: another first tree
                t.verify_consistency(m, n, proof, naive_mth([b"x", *ENTRIES[1:m]]), roots[n])
            with pytest.raises(t.LogProofInvalid):  # a rollback
                t.verify_consistency(n, m, proof, roots[n], roots[m])
            if proof:
                bad = list(proof)
                bad[0] = bytes(32)
                with pytest.raises(t.LogProofInvalid):
                    t.verify_consistency(m, n, bad, roots[m], roots[n])


def test_rfc8785_canonical_json():
    # RFC 8785 §3.2.3: keys sorted by UTF-16 code units (U+1D306 sorts before U+FB33 there).
    value = {"\u20ac": "Euro", "\r": "CR", "\ufb33": "Hebrew", "1": "One", "\U0001f600": "Emoji",
             "\x80": "Control", "\u00f6": "O"}
    assert t.canonical_json(value).decode() == (
        '{"\\r":"CR","1":"One","\x80":"Control","\u00f6":"O","\u20ac":"Euro","\U0001f600":"Emoji",'
        '"\ufb33":"Hebrew"}')
    assert t.canonical_json({"b": [1, None, True], "a": "\u2028\x1f"}) == b'{"a":"\xe2\x80\xa8\\u001f","b":[1,null,true]}'
    with pytest.raises(ValueError):
        t.canonical_json({"x": 1.5})
    # the fast path for flat events gives what the general one gives
    flat = {"\u20ac": "a\x00\n\"\\", "1": 7, "z": None, "\u00f6": True, "kind": "\u4e2d\u6587"}
    assert t.canonical_json(flat) == t._jcs(flat).encode()
    assert t.canonical_json(flat).decode() == '{"1":7,"kind":"\u4e2d\u6587","z":null,"\u00f6":true,"\u20ac":"a\\u0000\\n\\"\\\\"}'


def test_tile_paths():
    assert t.tile_index_path(0) == "000"
    assert t.tile_index_path(1234067) == "x001/x234/067"
    assert t.tile_path(0, 1234, 5) == "tile/0/x001/234.p/5"
    assert t.tile_path("entries", 48) == "tile/entries/048"
    for n in (0, 7, 999, 1000, 1234067, 10**9):
        assert t.parse_tile_index(t.tile_index_path(n)) == n
    for bad in ("1", "x1/000", "001/002", "x000/001", "0000"):
        with pytest.raises(ValueError):
            t.parse_tile_index(bad)
    entries = [b"a", b"", b"x" * 300]
    assert t.bundle_entries(t.bundle(entries)) == entries
    with pytest.raises(t.LogProofInvalid):
        t.bundle_entries(t.bundle(entries)[:-1])


def test_signed_note_key_id_and_signature():
    # Published vector of golang.org/x/mod/sumdb/note (note_test.go): the PeterNeumann key.
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    v = t.NoteVerifier.parse(vkey)
    assert str(v) == vkey
    text = ("If you think cryptography is the answer to your problem,\n"
            "then you don't know what your problem is.\n"
            "\n"
            "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
    assert t.open_note(text, v).startswith("If you think")
    with pytest.raises(t.LogProofInvalid):
        t.open_note(text.replace("answer", "Answer"), v)
    with pytest.raises(t.LogProofInvalid):
        t.NoteVerifier.parse(vkey.replace("c74f20a3", "c74f20a4"))


def test_checkpoint_round_trip_and_tampering():
    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    origin = "labels.example.org/log"
    root = t.root_of(LEAVES[:7])
    body = f"{origin}\n7\n{base64.b64encode(root).decode()}\n"
    note = t.sign_note(body, origin, key.sign, pub)
    cp = t.verify_checkpoint(note, t.verifier_key(origin, pub))
    assert (cp.size, cp.root) == (7, root)
    with pytest.raises(t.LogProofInvalid):
        t.verify_checkpoint(note.replace("\n7\n", "\n8\n"), t.verifier_key(origin, pub))
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(t.LogProofInvalid):
        t.verify_checkpoint(note, t.verifier_key(origin, other))


def test_documented_vector():
    """The test vector of docs/transparency-log.md."""
    entries = [
        b'{"body":"7d1c2d4e-0c5b-4f7e-9a51-3f1c7d0e2b11","kid":"did:web:labels.example.org:bodies:7d1c2d4e-0c5b-4f7e-9a51-3f1c7d0e2b11#key-1","kind":"key.created","owner":"body","sha256":"f571aa6a2e69072f2de07b0723172eebc5f8fdee1f3a0ecc63229830773b58f0","time":"2026-01-05T08:00:00.000000Z"}',
        b'{"body":"7d1c2d4e-0c5b-4f7e-9a51-3f1c7d0e2b11","certificateId":"3b0e8c3a-5d2e-4a8b-9f0c-1e2d3c4b5a69","certificateNumber":"CQC-2026-000001","gtin":"06901234567892","kind":"certificate.issued","manufacturer":"urn:uscc:91340000MA2N00001X","sha256":"4900006da33ffbbac1b0a43576e7d78c8a91805fb904cc58d21b54215ef80bce","time":"2026-01-06T09:30:00.000000Z","type":"carbon-footprint"}',
        b'{"body":"7d1c2d4e-0c5b-4f7e-9a51-3f1c7d0e2b11","certificateId":"3b0e8c3a-5d2e-4a8b-9f0c-1e2d3c4b5a69","certificateNumber":"CQC-2026-000001","gtin":"06901234567892","kind":"certificate.suspended","manufacturer":"urn:uscc:91340000MA2N00001X","sha256":"4900006da33ffbbac1b0a43576e7d78c8a91805fb904cc58d21b54215ef80bce","time":"2026-02-01T10:00:00.000000Z","type":"carbon-footprint"}',
    ]
    for e in entries:  # already canonical
        import json
        assert t.canonical_json(json.loads(e)) == e
    leaves = [t.leaf_hash(e).hex() for e in entries]
    assert leaves == ["aa4c45cd4eb5a614d6e435ec9b0aa353686cfc6f73b9c93be8c4ae6e6ad611ab",
                      "c6153574cbd56450ca8418a6ae635bd06b527353cb26c523265db09ad1bf6713",
                      "278ec3c75be336000e5ca9aa65ae1f9f9ca5ae27d0a7d4b1ea50a5d24d2e22ad"]
    root = naive_mth(entries)
    assert root.hex() == "9d07379f1daf5eaaf854bbef5a5daa79729116eb2c73dce6419a6601fa58634f"
    seed = hashlib.sha256(b"carbon label registry log test vector").digest()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    vkey = "labels.example.org/log+bdaa7e35+AX6/o1oofXpuzUFdioNxfP2+R6thmM8lKzlScNvQ02vr"
    assert t.verifier_key("labels.example.org/log", pub) == vkey
    note = ("labels.example.org/log\n3\nnQc3nx2vXqr4VLvvWl2qeXKRFussc9zmQZpmAfpYY08=\n\n"
            "\u2014 labels.example.org/log vap+Nd6kNTQj6eBZucHxBJL8SHKPF9rPIV4uPb2smE0jMowOrhpaHsWDpctMfdxARK5ks8AsBxYaCA8QGHccUqGmdAc=\n")
    assert t.sign_note("labels.example.org/log\n3\nnQc3nx2vXqr4VLvvWl2qeXKRFussc9zmQZpmAfpYY08=\n",
                       "labels.example.org/log", key.sign, pub) == note
    cp = t.verify_checkpoint(note, vkey)
    assert (cp.size, cp.root) == (3, root)
    t.verify_inclusion(t.leaf_hash(entries[1]), 1, 3, [t.leaf_hash(entries[0]), t.leaf_hash(entries[2])], root)
    t.verify_consistency(2, 3, [t.leaf_hash(entries[2])], naive_mth(entries[:2]), root)
