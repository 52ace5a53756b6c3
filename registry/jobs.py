"""Background jobs: label exports of any size, run by ``flask --app wsgi registry worker``.

A request stores a ``jobs`` row (``queued``) and answers 202; the worker claims the oldest
queued job with a compare-and-set update (two workers never run one job), renders the labels
while recording ``done``/``total``, writes the file under ``<instance>/exports/`` (0600) and
marks the job ``done`` with an expiry. Only the creating body can read the job or its file.
Expired files are deleted by the same task; a job whose worker died (no heartbeat for
``JOB_STALE_SECONDS``) is queued again.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import labels
from .db import new_session
from .errors import Conflict, NotFound, RegistryError
from .models import Certificate, Job, utcnow
from .worker import task

log = logging.getLogger("registry.jobs")

EXPORT_KIND = "label-export"
ACTIVE = ("queued", "running")
#: Stored in the job's result; the counts by message cover every label.
MAX_LISTED_WARNINGS = 200
_CHUNK = 500
MEDIA = {"zip": ("application/zip", "zip"), "pdf-sheet": ("application/pdf", "pdf")}


class JobGone(RegistryError):
    status = 410
    type = "job-expired"
    title = "Export expired"


class TooManyJobs(RegistryError):
    status = 429
    type = "too-many-jobs"
    title = "Too many exports running"


def export_dir() -> Path:
    """Where finished exports are kept: ``EXPORT_DIR``, or ``<instance>/exports`` (web and worker
    must see the same folder)."""
    path = Path(current_app.config.get("EXPORT_DIR") or Path(current_app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def create_export(session: Session, body_id: str, certificate_ids: list[str], options: dict) -> Job:
    """Queue an export of a body's own certificates' labels (the caller checked ownership)."""
    limit = int(current_app.config.get("EXPORT_MAX_ACTIVE", 5))
    active = session.scalar(select(func.count()).select_from(Job)
                            .where(Job.body_id == body_id, Job.state.in_(ACTIVE)))
    if active >= limit:
        err = TooManyJobs(f"This body already has {active} exports queued or running (at most {limit}); "
                          "wait for one to finish")
        err.headers = {"Retry-After": "30"}
        raise err
    job = Job(kind=EXPORT_KIND, body_id=body_id, state="queued", done=0, total=len(certificate_ids),
              params={"certificates": list(certificate_ids), "options": dict(options)}, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str, body_id: str | None) -> Job:
    """The job if ``body_id`` created it; another body's job is not found (not even its existence)."""
    job = session.get(Job, job_id)
    if job is None or job.body_id != body_id:
        raise NotFound("No such job", type="job-not-found")
    return job


def job_file(job: Job) -> Path:
    """The finished job's file. Raises Conflict while it runs, JobGone once expired."""
    if job.state == "expired" or (job.expires_at is not None and job.expires_at <= utcnow()):
        raise JobGone("The export has expired and its file was deleted; start a new export")
    if job.state != "done" or not job.file_name:
        raise Conflict(f"The export is {job.state}; its file is ready when the state is done",
                       type="job-not-finished")
    path = export_dir() / job.file_name
    if not path.is_file():
        raise JobGone("The export's file is gone; start a new export")
    return path


def view(job: Job, base_url: str) -> dict:
    """The job as the API shows it."""
    out = {"id": job.id, "kind": job.kind, "state": job.state, "done": job.done, "total": job.total,
           "createdAt": _iso(job.created_at), "startedAt": _iso(job.started_at),
           "finishedAt": _iso(job.finished_at), "expiresAt": _iso(job.expires_at),
           "url": f"{base_url}/api/v1/jobs/{job.id}"}
    result = job.result or {}
    for key in ("warnings", "warningCounts", "warningCount", "error", "size", "mediaType", "fileName"):
        if key in result:
            out[key] = result[key]
    if job.state == "done":
        out["download"] = f"{base_url}/api/v1/jobs/{job.id}/download"
    return out


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def iter_label_data(session: Session, ids: list[str]) -> Iterator[labels.LabelData]:
    """Label data in the order asked, reading certificates a chunk at a time (bounded memory)."""
    from .api.labels import label_data

    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = {c.id: c for c in session.scalars(select(Certificate).where(Certificate.id.in_(chunk)))}
        for cid in chunk:
            cert = rows.get(cid)
            if cert is None:
                raise labels.LabelError(f"certificate {cid} no longer exists")
            yield label_data(cert)
        for cert in rows.values():  # keep the identity map from growing with the export
            session.expunge(cert)


def write_export(items, total: int, options: dict, out, progress=None) -> list[tuple[str, str]]:
    """Render ``items`` into the file object ``out`` as the options say; returns the warnings.

    The one export path: the worker's jobs and ``flask registry export-labels`` both use it.
    """
    warnings: list[tuple[str, str]] = []
    common = dict(lang=options["lang"], mode=options["mode"], width_mm=options.get("width"),
                  variant=options.get("variant", "standard"), colour=options.get("colour", "colour"),
                  print_=options.get("print", "rgb"), progress=progress, total=total, out=out, warnings=warnings)
    if options["format"] == "pdf-sheet":
        labels.render_sheet(items, **common)
    else:
        labels.render_archive(items, formats=tuple(options["formats"]), **common)
    return warnings


def summarise_warnings(warnings: list[tuple[str, str]]) -> dict:
    """Warnings for people: counts by message, and the first ones with their certificate."""
    counts = Counter(message for _, message in warnings)
    return {"warningCount": len(warnings),
            "warningCounts": [{"message": m, "labels": n} for m, n in counts.most_common()],
            "warnings": [{"certificateNumber": num, "message": m} for num, m in warnings[:MAX_LISTED_WARNINGS]]}


def run_job(session: Session, job: Job) -> None:
    """Render a claimed job to its file and mark it done (or failed, with the reason)."""
    options = job.params["options"]
    ids = job.params["certificates"]
    media_type, ext = MEDIA[options["format"]]
    final = export_dir() / f"{job.id}.{ext}"
    partial = final.with_suffix(".part")
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            session.execute(update(Job).where(Job.id == job.id).values(done=done, heartbeat_at=utcnow()))
            session.commit()

    job_id = job.id
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            warnings = write_export(iter_label_data(session, ids), len(ids), options, out, progress)
        os.replace(partial, final)
    except Exception as err:
        session.rollback()
        partial.unlink(missing_ok=True)
        if isinstance(err, RegistryError):
            error = {"type": err.type, "title": err.title, "detail": err.detail}
        else:
            log.exception("export job %s failed", job_id)
            error = {"type": "internal-error", "title": "Export failed",
                     "detail": "The export could not be completed; it has been logged"}
        now = utcnow()
        session.execute(update(Job).where(Job.id == job_id).values(
            state="failed", result={"error": error}, finished_at=now,
            expires_at=now + timedelta(seconds=_ttl())))
        session.commit()
        return
    now = utcnow()
    result = {"fileName": f"labels.{ext}", "mediaType": media_type, "size": final.stat().st_size}
    result.update(summarise_warnings(warnings))
    session.execute(update(Job).where(Job.id == job_id).values(
        state="done", done=len(ids), result=result, file_name=final.name, finished_at=now,
        expires_at=now + timedelta(seconds=_ttl())))
    session.commit()


def _ttl() -> int:
    return int(current_app.config.get("EXPORT_TTL", 86400))


def claim(session: Session) -> Job | None:
    """The oldest queued job, now ``running`` for this worker; None if there is none."""
    stale = utcnow() - timedelta(seconds=int(current_app.config.get("JOB_STALE_SECONDS", 600)))
    session.execute(update(Job).where(Job.state == "running", Job.heartbeat_at < stale)
                    .values(state="queued"))
    session.commit()
    for job_id in session.scalars(select(Job.id).where(Job.state == "queued")
                                  .order_by(Job.created_at, Job.id).limit(5)):
        now = utcnow()
        won = session.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                              .values(state="running", started_at=now, heartbeat_at=now, done=0))
        session.commit()
        if won.rowcount == 1:
            return session.get(Job, job_id, populate_existing=True)
    return None


def purge_expired(session: Session) -> int:
    """Delete the files of expired jobs and mark them ``expired``; returns how many."""
    now = utcnow()
    jobs = session.scalars(select(Job).where(Job.state.in_(("done", "failed")), Job.expires_at <= now)).all()
    for job in jobs:
        if job.file_name:
            (export_dir() / job.file_name).unlink(missing_ok=True)
        job.state = "expired"
        job.file_name = None
    if jobs:
        session.commit()
    return len(jobs)


@task("label-exports")
def label_exports(app) -> int:
    """One export job per call (the loop calls again at once when this one handled something)."""
    session = new_session()
    try:
        handled = purge_expired(session)
        job = claim(session)
        if job is not None:
            run_job(session, job)
            handled += 1
        return handled
    finally:
        if session is not app.config.get("SESSION"):
            session.close()
