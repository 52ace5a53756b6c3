"""Every paged search is served in index order: no full scan and no sort of the certificates table.

SQLite: ``EXPLAIN QUERY PLAN``. PostgreSQL: ``EXPLAIN`` with sequential scans, bitmap scans and
sorts priced out, because on a test-sized table the planner would rightly prefer them; if no index
can deliver the order, the plan keeps a Sort (or a Seq Scan) anyway and the test fails.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import combinations

import pytest
from sqlalchemy import select, text

from registry.api.certificates import FILTERS, search_statement
from registry.api.log import entry_by_leaf
from registry.models import CertificateBasis
from registry.services import issuing

from ..factories import certificate_request, footprint, make_body, make_category

VALUES = {"gtin": "06901234567892", "manufacturer": "urn:uscc:1", "category": "cement", "type": "low-carbon",
          "status": "active", "body": "b", "number": "CB-2026-000001"}
CURSOR = 12_345  # a log index
SUBSETS = [dict((n, VALUES[n]) for n in names) for k in range(len(FILTERS) + 1)
           for names in combinations(FILTERS, k)]


def plan(session, stmt, is_postgres: bool, *, allow_sort: bool = False) -> str:
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    if is_postgres:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        session.execute(text(f"SET LOCAL enable_sort = {'on' if allow_sort else 'off'}"))
        try:
            return "\n".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))
        finally:
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                session.execute(text(f"RESET {setting}"))
    return "\n".join(r[-1] for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize("after", [None, CURSOR], ids=["first-page", "next-page"])
def test_every_filter_combination_reads_in_index_order(session, is_postgres, after):
    for filters in SUBSETS:
        text_ = plan(session, search_statement(filters, after, 51), is_postgres, allow_sort="number" in filters)
        where = f"{sorted(filters)}:\n{text_}"
        if "number" in filters:  # unique: at most one row, found by its own index
            if is_postgres:
                assert "Seq Scan" not in text_, where
                assert "uq_certificates_number" in text_ or ("Sort" not in text_ and "ix_certificates_" in text_), where
            else:
                assert "(number=?)" in text_ and "SCAN certificates" not in text_, where
            continue
        if is_postgres:
            assert "Seq Scan" not in text_ and "Sort" not in text_, where
            assert "Index Scan Backward using ix_certificates_" in text_, where
        else:
            assert "TEMP B-TREE" not in text_, where
            assert "USING INDEX ix_certificates_" in text_ and "log" in text_, where
            assert "SCAN certificates\n" not in text_ + "\n", where
            if filters:  # a filtered search seeks to its value instead of walking all certificates
                assert "SEARCH certificates USING INDEX" in text_, where


def test_revocation_cascade_seeks_by_based_on(session, is_postgres):
    stmt = select(CertificateBasis.certificate_id).where(CertificateBasis.based_on_id == "x")
    text_ = plan(session, stmt, is_postgres, allow_sort=True)
    if is_postgres:
        assert "Seq Scan" not in text_ and "ix_certificate_basis_based_on_id" in text_, text_
    else:
        assert "SEARCH certificate_basis USING" in text_ and "based_on_id=?" in text_, text_


def test_cursor_pages_through_certificates_created_in_the_same_instant(app, client, session):
    make_category(session, "cement")
    body, client_id, _ = make_body(session, app)
    now = datetime.now(timezone.utc)
    with app.app_context():
        results = issuing.issue_batch(session, app.extensions["registry.signer"], body,
                                      [certificate_request(footprint=footprint(f"0.{n}")) for n in range(70, 75)],
                                      public_url="http://registry.test", actor="test", client_id=client_id, now=now)
    session.flush()
    ids = [r.certificate.id for r in reversed(results)]  # newest first: last issued, first listed
    seen, url = [], f"/api/v1/certificates?body={body.id}&limit=2"
    while url:
        page = client.get(url).get_json()
        seen += [c["id"] for c in page["items"]]
        url = page["next"]
    assert seen == ids


def test_a_proof_by_leaf_hash_seeks_on_the_hash_prefix_index(session, is_postgres):
    text_ = plan(session, entry_by_leaf(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"), is_postgres, allow_sort=True)
    assert "ix_tlog_entries_leaf_prefix" in text_, text_
    if is_postgres:
        assert "Seq Scan" not in text_, text_
    else:
        assert "SEARCH tlog_entries USING INDEX ix_tlog_entries_leaf_prefix" in text_, text_
