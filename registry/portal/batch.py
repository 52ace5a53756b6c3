"""Issuing many rows at once: the batch path when the issuing service has one, else row by row.

Each row runs in its own SAVEPOINT inside one transaction, so a refused row leaves nothing
behind and the others stand; every row carries an idempotency key, so a row issued before
is answered with its certificate instead of a second one. When ``services.issuing`` offers
``issue_batch`` (the path behind ``POST /api/v1/certificates/batch``), it is used instead.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, RegistryError
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
    batch = getattr(issuing, "issue_batch", None)
    if batch is not None:
        return _through_batch(batch, session, signer, body, items, public_url=public_url, actor=actor,
                              client_id=client_id)
    return [_one(session, signer, body, key, raw, data, public_url=public_url, actor=actor, client_id=client_id)
            for key, raw, data in items]


def _one(session, signer, body, key, raw, data, *, public_url, actor, client_id) -> RowResult:
    digest = issuing.request_hash(raw)
    try:
        with session.begin_nested():
            earlier = issuing.find_idempotent(session, client_id, key, digest)
            if earlier is not None:
                return RowResult(earlier, replayed=True)
            cert = issuing.issue(session, signer, body, data, public_url=public_url, actor=actor)
            issuing.remember_idempotency(session, client_id, key, digest, cert)
            session.flush()
            return RowResult(cert)
    except RegistryError as err:
        return RowResult(None, err)
    except IntegrityError as err:
        if "offsets" in str(err.orig).lower():
            return RowResult(None, Conflict("An offset in this row already backs another certificate",
                                            type="offset-already-used"))
        raise


def _through_batch(batch, session, signer, body, items, *, public_url, actor, client_id) -> list[RowResult]:
    """Call ``issuing.issue_batch`` with the arguments it declares; read its per-item answers."""
    requests = [{**raw, "idempotencyKey": key} for key, raw, _ in items]
    offered = {"session": session, "signer": signer, "body": body, "items": requests, "requests": requests,
               "public_url": public_url, "actor": actor, "client_id": client_id,
               "loaded": [data for _, _, data in items]}
    params = inspect.signature(batch).parameters
    positional = [offered[name] for name, p in params.items()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty and name in offered]
    keywords = {name: offered[name] for name, p in params.items()
                if name in offered and (p.kind == p.KEYWORD_ONLY or p.default is not p.empty)}
    answers = batch(*positional, **keywords)
    out = []
    for answer in answers:
        if isinstance(answer, RowResult):
            out.append(answer)
        elif isinstance(answer, Certificate):
            out.append(RowResult(answer))
        elif isinstance(answer, RegistryError):
            out.append(RowResult(None, answer))
        elif isinstance(answer, dict):
            cert = answer.get("certificate")
            if isinstance(cert, dict):
                cert = session.get(Certificate, cert.get("id"))
            problem = answer.get("problem") or answer.get("error")
            if cert is not None:
                out.append(RowResult(cert, replayed=bool(answer.get("replayed"))))
            elif isinstance(problem, RegistryError):
                out.append(RowResult(None, problem))
            else:
                problem = problem or {}
                out.append(RowResult(None, RegistryError(problem.get("detail", "refused"),
                                                         status=problem.get("status", 422),
                                                         errors=problem.get("errors"))))
        else:
            raise TypeError(f"issuing.issue_batch answered an item as {type(answer).__name__}")
    return out
