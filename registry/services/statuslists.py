"""Bitstring Status Lists: random index allocation and bit flips in the caller's transaction."""

from __future__ import annotations

import secrets

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

import verifier as statuslist

from ..models import Certificate, StatusList, utcnow

PREFIX = {"revocation": "r", "suspension": "s"}
# A list is closed to new entries at 75 % so random probing stays cheap and indexes stay unguessable.
FILL_LIMIT = 0.75


def _open_list(session: Session, purpose: str) -> StatusList:
    # FOR UPDATE serialises allocation on PostgreSQL; SQLite serialises writers anyway.
    row = session.scalars(select(StatusList).where(StatusList.purpose == purpose)
                          .order_by(StatusList.id.desc()).with_for_update()).first()
    if row is None or row.used >= row.size * FILL_LIMIT:
        n = 1 if row is None else int(row.id[1:]) + 1
        row = StatusList(id=f"{PREFIX[purpose]}{n}", purpose=purpose, size=statuslist.LIST_SIZE,
                         bits=bytes(statuslist.LIST_SIZE // 8), used=0, version=1, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def allocate(session: Session, purpose: str) -> tuple[str, int]:
    """A fresh (listId, index) for ``purpose``, chosen at random so neighbours reveal nothing."""
    row = _open_list(session, purpose)
    index_col = Certificate.revocation_index if purpose == "revocation" else Certificate.suspension_index
    list_col = Certificate.revocation_list_id if purpose == "revocation" else Certificate.suspension_list_id
    while True:
        index = secrets.randbelow(row.size)
        taken = session.scalar(select(exists().where(list_col == row.id, index_col == index)))
        if not taken:
            row.used += 1
            return row.id, index


def set_status(session: Session, list_id: str, index: int, value: bool) -> None:
    row = session.scalars(select(StatusList).where(StatusList.id == list_id).with_for_update()).one()
    bits = bytearray(row.bits)
    if statuslist.get_bit(bits, index) == value:
        return
    statuslist.set_bit(bits, index, value)
    row.bits = bytes(bits)
    row.version += 1
    row.updated_at = utcnow()
