"""Bitstring Status Lists: random index allocation and bit flips in the caller's transaction."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam, exists, func, inspect, select, update
from sqlalchemy.orm import Session

import verifier as statuslist

from ..models import Certificate, StatusList, utcnow

PREFIX = {"revocation": "r", "suspension": "s"}
# A list is closed to new entries at 75 % so random probing stays cheap and indexes stay unguessable.
FILL_LIMIT = 0.75


def _open_list(session: Session, purpose: str, pending: dict[str, int] | None = None) -> StatusList:
    row = session.scalars(_newest(select(StatusList), purpose)
                          .execution_options(populate_existing=True)).first()
    if row is None or row.used + (pending or {}).get(row.id, 0) >= row.size * FILL_LIMIT:
        n = 1 if row is None else int(row.id[1:]) + 1
        row = StatusList(id=f"{PREFIX[purpose]}{n}", purpose=purpose, size=statuslist.LIST_SIZE,
                         bits=bytes(statuslist.LIST_SIZE // 8), used=0, version=1, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def _newest(stmt, purpose: str):
    # The newest list is the highest number: "r10" sorts before "r9" as text, so length first.
    # FOR UPDATE serialises allocation on PostgreSQL; SQLite serialises writers anyway.
    return (stmt.where(StatusList.purpose == purpose)
            .order_by(func.length(StatusList.id).desc(), StatusList.id.desc()).limit(1).with_for_update())


#: Random indexes a batch checks against the table in one query (BatchLists.draw).
PROBE = 256


class BatchLists:
    """Open lists for one batch inside one transaction: random indexes are checked against the
    table a few hundred at a time instead of one by one (reading every taken index of a list
    instead would cost a batch up to 98,304 rows per list), and ``used`` is written once, by
    :meth:`settle`.

    Safe because the list row stays locked (FOR UPDATE, or SQLite's single writer) until commit. A
    lock first taken inside a savepoint goes when that savepoint rolls back: :meth:`forget` then
    drops the open rows and the unchecked candidates, so the next allocation locks and probes again.
    """

    def __init__(self) -> None:
        self.rows: dict[str, StatusList] = {}
        self.taken: dict[str, set[int]] = {}  # indexes this batch has handed out
        self.free: dict[str, list[int]] = {}  # random indexes no certificate held when checked, last drawn first
        self.pending: dict[str, int] = {}
        self.touched: dict[str, StatusList] = {}
        self.states: dict[str, object] = {}  # each open row's InstanceState, asked at every allocation

    def forget(self) -> None:
        """After a savepoint rolled back: what was open may no longer be locked by this transaction."""
        self.rows.clear()
        for candidates in self.free.values():
            candidates.clear()

    def open(self, session: Session, purpose: str) -> StatusList:
        row = self.rows.get(purpose)
        if (row is None or not self.states[purpose].persistent
                or row.used + self.pending[row.id] >= row.size * FILL_LIMIT):
            row = self.rows[purpose] = _open_list(session, purpose, self.pending)
            self.states[purpose] = inspect(row)
            if row.id in self.taken:  # the same list again, after a savepoint rolled back
                return row
            self.taken[row.id] = set()
            self.free[row.id] = []
            self.pending.setdefault(row.id, 0)
            self.touched[row.id] = row
        return row

    def draw(self, session: Session, row: StatusList, purpose: str) -> int:
        """A random index of ``row`` that no certificate holds and this batch has not handed out:
        the same draws, in the same order, as probing one at a time, checked ``PROBE`` at a time."""
        taken, free = self.taken[row.id], self.free[row.id]
        while True:
            while free:
                index = free.pop()
                if index not in taken:
                    taken.add(index)
                    self.pending[row.id] += 1
                    return index
            drawn = list(dict.fromkeys(secrets.randbelow(row.size) for _ in range(PROBE)))
            index_col, list_col = _columns(purpose)
            held = set(session.connection().scalars(
                select(index_col).where(list_col == row.id, index_col.in_(drawn))).all())
            free.extend(index for index in reversed(drawn) if index not in held)

    def settle(self, session: Session) -> None:
        """Write each touched list's ``used`` as the number of certificates it really holds."""
        for list_id, row in self.touched.items():
            if not inspect(row).persistent:
                continue
            _, list_col = _columns(row.purpose)
            row.used = session.connection().scalar(select(func.count()).where(list_col == list_id))


def _columns(purpose: str):
    if purpose == "revocation":
        return Certificate.revocation_index, Certificate.revocation_list_id
    return Certificate.suspension_index, Certificate.suspension_list_id


def _single_statements(purpose: str) -> tuple:
    index_col, list_col = _columns(purpose)
    return (_newest(select(StatusList.id, StatusList.size, StatusList.used), purpose),
            select(exists().where(list_col == bindparam("list_id"), index_col == bindparam("index"))),
            update(StatusList).where(StatusList.id == bindparam("list_id")).values(used=StatusList.used + 1))


#: One issuance's statements, built once: the open list read without its 16 kB of bits, the probe, the count.
_SINGLE = {purpose: _single_statements(purpose) for purpose in PREFIX}


def allocate(session: Session, purpose: str, *, batch: BatchLists | None = None) -> tuple[str, int]:
    """A fresh (listId, index) for ``purpose``, chosen at random so neighbours reveal nothing."""
    if batch is not None:
        row = batch.open(session, purpose)
        return row.id, batch.draw(session, row, purpose)
    session.flush()  # the probe below must see certificates this session has not written yet
    conn = session.connection()
    newest, probe, count = _SINGLE[purpose]
    row = conn.execute(newest).first()
    if row is None or row.used >= row.size * FILL_LIMIT:  # only opening a list goes through the ORM
        row = _open_list(session, purpose)
    list_id, size = row.id, row.size
    while True:
        index = secrets.randbelow(size)
        if not conn.scalar(probe, {"list_id": list_id, "index": index}):
            conn.execute(count, {"list_id": list_id})
            return list_id, index


def set_status(session: Session, list_id: str, index: int, value: bool) -> None:
    row = session.scalars(select(StatusList).where(StatusList.id == list_id).with_for_update()).one()
    bits = bytearray(row.bits)
    if statuslist.get_bit(bits, index) == value:
        return
    statuslist.set_bit(bits, index, value)
    row.bits = bytes(bits)
    row.version += 1
    row.updated_at = utcnow()
