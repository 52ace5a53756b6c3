"""Bitstring Status Lists: random index allocation and bit flips in the caller's transaction."""

from __future__ import annotations

import secrets

from sqlalchemy import exists, inspect, select
from sqlalchemy.orm import Session

from verifier import statuslist

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


def allocate(session: Session, purpose: str, *, cache: dict | None = None) -> tuple[str, int]:
    """A fresh (listId, index) for ``purpose``, chosen at random so neighbours reveal nothing.

    ``cache`` (one per batch, inside one transaction) keeps the open list between calls; a list
    created in a savepoint that was rolled back is no longer persistent and is looked up again.
    """
    row = cache.get(purpose) if cache is not None else None
    if row is None or not inspect(row).persistent or row.used >= row.size * FILL_LIMIT:
        row = _open_list(session, purpose)
        if cache is not None:
            cache[purpose] = row
    index_col = Certificate.revocation_index if purpose == "revocation" else Certificate.suspension_index
    list_col = Certificate.revocation_list_id if purpose == "revocation" else Certificate.suspension_list_id
    while True:
        index = secrets.randbelow(row.size)
        # On the connection: an autoflush here would write the list row once per allocation.
        taken = session.connection().scalar(select(exists().where(list_col == row.id, index_col == index)))
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
