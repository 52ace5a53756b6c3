"""Migration 0007 builds the log for what already exists, in the order it happened."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import select

from registry import create_app
from registry.cli import alembic_config
from registry.db import new_session
from registry.models import SigningKey, TlogEntry
from registry.schemas.certificates import CertificateIn
from registry.services import accreditation, issuing, revocation

from ..conftest import app_config
from ..factories import certificate_request, commit_body
from ..verifier.test_tlog import naive_mth


def test_upgrade_builds_the_log_of_existing_certificates(tmp_path):
    url = f"sqlite:///{tmp_path / 'existing.sqlite3'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    app = create_app(app_config(url))
    app.instance_path = str(tmp_path)
    body, _cid, _secret = commit_body(app)
    with app.app_context():
        session = new_session()
        body = accreditation.get_body(session, body.id)
        cert = issuing.issue(session, app.extensions["registry.signer"], body, CertificateIn().load(certificate_request()),
                             public_url=app.config["PUBLIC_URL"], actor="test")
        revocation.change_status(session, cert, "suspend", "audit", actor="test")
        session.commit()
        cert_id = cert.id
        session.close()
    app.extensions["registry.engine"].dispose()
    # as if the log had not existed: drop it, and let the migration build it again
    command.downgrade(cfg, "0002")
    command.upgrade(cfg, "head")
    with app.app_context():
        session = new_session()
        entries = list(session.scalars(select(TlogEntry.entry).order_by(TlogEntry.idx)))
        events = [json.loads(e) for e in entries]
        mine = [e["kind"] for e in events if e.get("certificateId") == cert_id]
        assert mine == ["certificate.issued", "certificate.suspended"]
        keys = session.scalars(select(SigningKey.kid)).all()
        assert sorted(e["kid"] for e in events if e["kind"] == "key.created") == sorted(keys)
        assert "body.accredited" in [e["kind"] for e in events]
        from registry import tlog

        assert tlog.tree(session).root() == naive_mth(entries)
        session.close()
