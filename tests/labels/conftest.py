"""Fixtures for label tests: real Ed25519-signed credentials for every kind × grade."""

from __future__ import annotations

import io
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.labels import label_data_from_credential, render_label
from registry.labels.samples import GRADES, KINDS, sample_credential, sample_header

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "labels"
ISSUER = {"issuer_name": "Huaxia Carbon Certification Centre", "issuer_name_zh": "华夏碳认证中心"}

#: Every kind × grade the grading scheme allows (footprint A–E and ungraded, low-carbon A–C,
#: reduced-carbon tiers 1–3, carbon-neutral levels 1–3).
KIND_GRADES = [(kind, grade) for kind in KINDS for grade in GRADES[kind]]


def kg_id(kg) -> str:
    kind, grade = kg
    return f"{kind}-{grade if grade is not None else 'ungraded'}"


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def public_key(signing_key):
    return signing_key.public_key()


class Signed:
    """A signed sample credential and the label data made from it."""

    def __init__(self, key, kind: str, grade, **overrides):
        # A distinct certificate number (and id) per kind × grade.
        overrides.setdefault("serial", 100 + KIND_GRADES.index((kind, grade)))
        self.payload = sample_credential(kind, grade, **overrides)
        self.header = sample_header(body_did=self.payload["issuer"])
        self.token = jwt.encode(self.payload, key, algorithm="EdDSA", headers=self.header)
        self.verify_url = self.payload["credentialSubject"]["id"]
        self.data = label_data_from_credential(
            self.payload, compact_jws=self.token, verify_url=self.verify_url, **ISSUER)


@pytest.fixture(scope="session")
def signed(signing_key):
    cache: dict = {}

    def get(kind: str, grade, **overrides) -> Signed:
        key = (kind, grade, tuple(sorted(overrides.items())))
        if key not in cache:
            cache[key] = Signed(signing_key, kind, grade, **overrides)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def rendered(signed):
    """Render once per (kind, grade, lang, mode, fmt) for the whole session."""
    cache: dict = {}

    def get(kind, grade, lang="zh-en", mode="link", fmt="png", **kw):
        key = (kind, grade, lang, mode, fmt, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = render_label(signed(kind, grade).data, fmt=fmt, lang=lang, mode=mode, **kw)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def open_png(content: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(content))
