"""The demo data covers every kind, grade and state, and loads once."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from registry.demo import seed
from registry.models import Body, Certificate


def test_demo_has_every_kind_grade_and_state(app, session):
    with app.app_context():
        summary = seed(session, app)
    session.flush()
    certs = session.scalars(select(Certificate).where(Certificate.id.in_([c["id"] for c in summary["certificates"]]))).all()
    grades = {(c.type, c.grade) for c in certs}
    for g in "ABCDE":
        assert ("carbon-footprint", g) in grades
    assert ("carbon-footprint", None) in grades
    for g in "ABC":
        assert ("low-carbon", g) in grades
    for g in "123":
        assert ("reduced-carbon", g) in grades and ("carbon-neutral", g) in grades
    states = Counter(c.status for c in certs)
    assert states["active"] and states["suspended"] and states["revoked"] >= 2
    assert any(c.valid_until < c.created_at.__class__.now(c.valid_until.tzinfo) for c in certs)  # expired
    assert any(c.status_reason == "superseded" for c in certs)
    assert session.scalars(select(Body).where(Body.code == "BFTC")).one().status == "suspended"
    people = summary["people"]
    assert set(people) == {"operator", "body-admin", "certifier"}
    assert all(p["password"] and p["totpSecret"] and p["email"] for p in people.values())
    with app.app_context():
        assert seed(session, app)["operator"] == summary["operator"]  # idempotent
