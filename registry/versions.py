"""Version counters of what verification caches depend on, bumped in the writing transaction.

``trust`` moves whenever a body, key, accreditation or interruption is added, changed or
removed; ``status`` whenever a status list is created or one of its bits changes. Issuing a
certificate (which only counts a list's used entries) moves neither, so verification caches stay
warm while certificates are issued. The bump is a flush hook, so no service can forget it.
"""

from __future__ import annotations

from itertools import chain

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from .models import Accreditation, Body, Interruption, RegistryVersion, SigningKey, StatusList

TRUST, STATUS = "trust", "status"
_TRUST_MODELS = (Body, SigningKey, Accreditation, Interruption)

#: Scalar subqueries reading one counter by primary key, for one-round-trip hot reads.
TRUST_VERSION = select(RegistryVersion.value).where(RegistryVersion.name == TRUST).scalar_subquery()
STATUS_VERSION = select(RegistryVersion.value).where(RegistryVersion.name == STATUS).scalar_subquery()


def _changes(session: Session) -> set[str]:
    names: set[str] = set()
    for obj in chain(session.new, session.deleted):
        if isinstance(obj, _TRUST_MODELS):
            names.add(TRUST)
        elif isinstance(obj, StatusList):
            names.add(STATUS)
    for obj in session.dirty:
        if isinstance(obj, _TRUST_MODELS) and session.is_modified(obj, include_collections=False):
            names.add(TRUST)
        elif isinstance(obj, StatusList) and inspect(obj).attrs.bits.history.has_changes():
            names.add(STATUS)
    return names


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context, _instances) -> None:
    for name in sorted(_changes(session)):
        bump(session, name)


def bump(session: Session, name: str) -> None:
    """Move counter ``name`` on, in the session's transaction."""
    session.connection().execute(update(RegistryVersion).where(RegistryVersion.name == name)
                                 .values(value=RegistryVersion.value + 1))


def current(session: Session, name: str) -> int:
    return session.connection().execute(select(RegistryVersion.value).where(RegistryVersion.name == name)).scalar_one()
