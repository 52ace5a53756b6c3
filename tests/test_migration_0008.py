"""Migration 0008 moves existing certificates: the credential packed, its subject and kid dropped as
copies, and the way back restores them from the credential. Migration 0012 gives each its issuance
entry's log index and takes the certificate id, kind and time off the log's entries, and back."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from registry.cli import alembic_config
from registry.models import Certificate, pack_jws, unpack_jws

from .test_migrations import fresh_url  # noqa: F401  (fixture)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


SUBJECT = {"certificateNumber": "CB-2026-000001", "product": {"name": "P", "gtin": "06901234567892"}, "grade": {"value": "C"}}
HEADER = {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": "did:web:registry.test:bodies:b1#key-1"}
CREDENTIAL = ".".join((_b64(HEADER), _b64({"id": "urn:uuid:c1", "credentialSubject": SUBJECT}),
                       base64.urlsafe_b64encode(bytes(range(64))).rstrip(b"=").decode()))


@pytest.mark.parametrize("token", [CREDENTIAL, "not.a-canonical.jws=", "plain"])
def test_pack_round_trips_exactly(token):
    assert unpack_jws(pack_jws(token)) == token


def test_existing_certificates_move_both_ways(fresh_url):  # noqa: F811
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, "0002")
    engine = create_engine(fresh_url)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(sep=" ")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO categories (code, name, declared_unit, demo, created_at, updated_at) "
                          "VALUES ('cement', 'Cement', 'kilogram', false, :t, :t)"), {"t": now})
        conn.execute(text("INSERT INTO bodies (id, code, name, country, status, demo, created_at) "
                          "VALUES ('b1', 'CB', 'Body', 'CN', 'active', false, :t)"), {"t": now})
        for list_id, purpose in (("r1", "revocation"), ("s1", "suspension")):
            conn.execute(text("INSERT INTO status_lists (id, purpose, size, bits, used, version, updated_at) "
                              "VALUES (:i, :p, 8, :b, 1, 1, :t)"), {"i": list_id, "p": purpose, "b": b"\0", "t": now})
        conn.execute(text(
            "INSERT INTO certificates (id, number, body_id, type, status, category_code, gtin, manufacturer_id, "
            "manufacturer_name, product_name, grade, pcf, valid_from, valid_until, subject, credential, kid, "
            "revocation_list_id, revocation_index, suspension_list_id, suspension_index, created_at, updated_at) "
            "VALUES ('c1', 'CB-2026-000001', 'b1', 'carbon-footprint', 'active', 'cement', '06901234567892', 'm', "
            "'M', 'P', 'C', '0.8', :t, :t, :s, :c, :k, 'r1', 1, 's1', 1, :t, :t)"),
            {"t": now, "s": json.dumps(SUBJECT), "c": CREDENTIAL, "k": HEADER["kid"]})
        conn.execute(text("INSERT INTO certificate_basis (certificate_id, based_on_id) VALUES ('c1', 'c1')"))
    command.upgrade(cfg, "head")
    with Session(engine) as session:
        cert = session.scalars(select(Certificate)).one()
        assert cert.credential == CREDENTIAL and cert.subject == SUBJECT and cert.kid == HEADER["kid"]
        stored = session.execute(text("SELECT credential FROM certificates")).scalar_one()
        assert len(bytes(stored)) < len(CREDENTIAL)
        assert session.execute(text("SELECT count(*) FROM certificate_basis")).scalar_one() == 1
        # 0012: the certificate pages by the index of its issuance entry in the log 0007 built
        entry = session.execute(text("SELECT entry FROM tlog_entries WHERE idx = :i"), {"i": cert.log_index}).scalar_one()
        assert json.loads(bytes(entry))["kind"] == "certificate.issued"
        assert json.loads(bytes(entry))["certificateId"] == "c1"
        log_index = cert.log_index
    command.downgrade(cfg, "0011_tlog")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT idx, kind, created_at FROM tlog_entries WHERE certificate_id = 'c1'")).one()
        assert row[0] == log_index and row[1] == "certificate.issued" and str(row[2]).startswith("2026-01-01")
    command.upgrade(cfg, "head")
    with Session(engine) as session:
        assert session.scalars(select(Certificate.log_index)).one() == log_index
    command.downgrade(cfg, "0002")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT credential, subject, kid FROM certificates")).one()
    assert row[0] == CREDENTIAL and row[2] == HEADER["kid"]
    assert (json.loads(row[1]) if isinstance(row[1], str) else row[1]) == SUBJECT
    engine.dispose()
