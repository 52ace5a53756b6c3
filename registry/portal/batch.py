"""Issuing many rows at once, through the batch path behind ``POST /api/v1/certificates/batch``.

All rows are issued in one transaction; a refused row leaves nothing behind and the others
stand (``issuing.issue_batch``); every row carries an idempotency key, so a row issued before
is answered with its certificate instead of a second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..errors import PROBLEM_BASE, RegistryError
from ..models import Body, Certificate
from ..services import issuing


@dataclass
class RowResult:
    certificate: Certificate | None
    error: RegistryError | None = None
    replayed: bool = False


def issue_rows(session: Session, signer, body: Body, items: list[tuple[str, dict, dict]], *, public_url: str,
               actor: str, client_id: str) -> list[RowResult]:
    """Issue ``items`` of (idempotency key, raw request, loaded request); flushes, never commits."""
    results = issuing.issue_batch(session, signer, body, [{**raw, "idempotencyKey": key} for key, raw, _ in items],
                                  public_url=public_url, actor=actor, client_id=client_id)
    out = []
    for result in results:
        if result.certificate is not None:
            out.append(RowResult(result.certificate, replayed=result.replayed))
            continue
        problem = result.problem or {}
        out.append(RowResult(None, RegistryError(problem.get("detail", "refused"), status=problem.get("status", 422),
                                                 type=str(problem.get("type", "")).removeprefix(PROBLEM_BASE) or None,
                                                 errors=problem.get("errors"))))
    return out
