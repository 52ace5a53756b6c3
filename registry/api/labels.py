"""Printable labels, bulk export, and the GS1 Digital Link resolver."""

from __future__ import annotations

import base64
import fcntl
import gzip
import json
import hashlib
import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from flask import Response, current_app, redirect, request, send_file
from marshmallow import fields, validate
from sqlalchemy import select

from .. import jobs, labels, public_pages
from ..auth import current_principal, require
from ..db import get_session
from ..errors import Forbidden, InvalidInput, NotFound, RegistryError
from ..http import json_body, limiter
from ..models import Certificate, utcnow
from ..schemas.common import StrictSchema
from ..services import lookup
from . import bp, doc, public

LANGS = ("zh", "en", "zh-en")
MODES = ("link", "offline")
FORMATS = ("svg", "png", "pdf")


class LabelQuery(StrictSchema):
    lang = fields.String(load_default="zh-en", validate=validate.OneOf(LANGS))
    mode = fields.String(load_default="link", validate=validate.OneOf(MODES))
    width = fields.Float(load_default=None, validate=validate.Range(min=15, max=300))
    dpi = fields.Integer(load_default=300, validate=validate.Range(min=72, max=1200))
    link = fields.String(load_default="verify", validate=validate.OneOf(("verify", "gs1")))
    variant = fields.String(load_default="standard", validate=validate.OneOf(labels.VARIANTS))
    colour = fields.String(load_default="colour", validate=validate.OneOf(labels.COLOURS))
    print_ = fields.String(data_key="print", load_default="rgb", validate=validate.OneOf(labels.PRINTS))
    bleed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    crops = fields.Boolean(load_default=False)


class ExportIn(StrictSchema):
    certificates = fields.List(fields.String(validate=validate.Length(1, 80)), required=True,
                               validate=validate.Length(1, 50_000))
    format = fields.String(load_default="zip", validate=validate.OneOf(("zip", "pdf-sheet")))
    formats = fields.List(fields.String(validate=validate.OneOf(FORMATS)), load_default=["svg", "png", "pdf"])
    lang = fields.String(load_default="zh-en", validate=validate.OneOf(LANGS))
    mode = fields.String(load_default="link", validate=validate.OneOf(MODES))
    width = fields.Float(load_default=None, validate=validate.Range(min=15, max=300))
    variant = fields.String(load_default="standard", validate=validate.OneOf(labels.VARIANTS))
    colour = fields.String(load_default="colour", validate=validate.OneOf(labels.COLOURS))
    print_ = fields.String(data_key="print", load_default="rgb", validate=validate.OneOf(labels.PRINTS))


def _stored_payload(token: str) -> dict:
    """The payload of a credential this registry signed and stored (its own record, not input)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def label_data(cert: Certificate, *, use_gs1: bool = False) -> labels.LabelData:
    base = current_app.config["PUBLIC_URL"]
    payload = _stored_payload(cert.credential)
    # The link names this certificate, so a scan opens what this label shows, not another
    # certificate of the same product.
    gs1 = f"{labels.gs1_digital_link(base, cert.gtin)}?cert={cert.id}" if use_gs1 and cert.gtin else None
    return labels.label_data_from_credential(payload, compact_jws=cert.credential, issuer_name=cert.body.name,
                                             issuer_name_zh=cert.body.name_zh, verify_url=f"{base}/v/{cert.id}",
                                             digital_link_url=gs1)


class _Prepared:
    """A rendered label ready to send: bytes, gzip for SVG, ETag and headers."""

    __slots__ = ("content", "gzipped", "etag", "headers", "media_type")

    def __init__(self, content: bytes, media_type: str, headers: dict):
        self.content = content
        self.media_type = media_type
        self.etag = hashlib.sha256(content).hexdigest()[:32]
        # SVG is text and shrinks ~5×; PNG and PDF are compressed already.
        self.gzipped = gzip.compress(content, 6, mtime=0) if media_type.startswith("image/svg") else None
        self.headers = headers


class _LabelResponses:
    """Labels are a function of the signed credential and never change, so a prepared response
    can be kept without asking the database again. Bounded by total bytes."""

    def __init__(self, budget: int = 48 * 1024 * 1024):
        self.items: OrderedDict[tuple, _Prepared] = OrderedDict()
        self.size = 0
        self.budget = budget
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            item = self.items.get(key)
            if item is not None:
                self.items.move_to_end(key)
            return item

    def put(self, key, item: _Prepared) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = item
            self.size += len(item.content) + len(item.gzipped or b"")
            while self.size > self.budget and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.size -= len(old.content) + len(old.gzipped or b"")


class _DiskLabels:
    """Rendered PNG and PDF labels in the instance folder, shared by every worker: a cold label is
    rendered once per instance instead of once per worker, and a restart keeps them. Bounded by
    ``LABEL_DISK_CACHE_MB``: every 64 writes the oldest files go until 80 % of it is left."""

    SWEEP_EVERY = 64

    def __init__(self, root: Path, budget: int):
        self.root = root
        self.budget = budget
        self.writes = 0

    def _path(self, key: tuple) -> Path:
        return self.root / (hashlib.sha256(repr(key).encode()).hexdigest() + ".label")

    def get(self, key: tuple) -> _Prepared | None:
        try:
            raw = self._path(key).read_bytes()
            size = int.from_bytes(raw[:4], "big")
            meta = json.loads(raw[4:4 + size])
        except (OSError, ValueError):  # absent, or torn by a crash: render again
            return None
        content = raw[4 + size:]
        if len(content) != meta.get("length"):
            return None
        return _Prepared(content, meta["mediaType"], meta["headers"])

    def put(self, key: tuple, prepared: _Prepared) -> None:
        if self.budget <= 0:
            return
        meta = json.dumps({"mediaType": prepared.media_type, "headers": prepared.headers,
                           "length": len(prepared.content)}).encode()
        path = self._path(key)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(len(meta).to_bytes(4, "big") + meta + prepared.content)
            os.replace(tmp, path)  # readers see the whole file or none
        except OSError as err:  # a full disk costs renders, not answers
            current_app.logger.warning("label cache: cannot write %s: %s", path.name, err)
            tmp.unlink(missing_ok=True)
            return
        self.writes += 1
        if self.writes % self.SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> None:
        files = []
        for entry in os.scandir(self.root):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        if total <= self.budget:
            return
        for _, size, path in sorted(files):
            Path(path).unlink(missing_ok=True)
            total -= size
            if total <= self.budget * 0.8:
                break


def _disk_labels() -> _DiskLabels:
    disk = current_app.extensions.get("registry.label_disk")
    if disk is None:
        budget = int(float(current_app.config.get("LABEL_DISK_CACHE_MB", 512)) * 1024 * 1024)
        disk = current_app.extensions["registry.label_disk"] = _DiskLabels(
            Path(current_app.instance_path) / "label-cache", budget)
    return disk


class RenderBusy(RegistryError):
    status = 503
    type = "busy"
    title = "Label renderer busy"


_process_slot = threading.Lock()


@contextmanager
def render_slot():
    """One label render at a time per instance (every worker process), and only a share of the time.

    Renders are CPU-bound: with sync workers on two cores, two concurrent renders would leave
    nothing for verification. The slot is a thread lock (this process) plus an exclusive
    ``flock`` on a file in the instance folder (all processes); the kernel drops the lock of
    a killed worker. After a render of *t* seconds the slot stays closed for *t* × (1 − share) /
    share more (``LABEL_RENDER_SHARE``, default 0.1), the time written in the lock file, so
    cold renders use at most that share of one core however many clients ask. A request that
    cannot have the slot within ``LABEL_RENDER_WAIT`` seconds gets 503 ``busy``: waiting holds
    a worker that verification needs.
    """
    cfg = current_app.config
    wait = max(0.0, float(cfg.get("LABEL_RENDER_WAIT", 0.0)))
    share = min(1.0, max(0.01, float(cfg.get("LABEL_RENDER_SHARE", 0.1))))
    deadline = time.monotonic() + wait
    if not (_process_slot.acquire(timeout=wait) if wait else _process_slot.acquire(blocking=False)):
        raise _busy()
    fd = None
    try:
        path = Path(current_app.instance_path) / "label-render.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if time.time() >= _free_from(fd):
                    break
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                raise _busy() from None
            time.sleep(0.02)
        started = time.monotonic()
        try:
            yield
        finally:
            rest = (time.monotonic() - started) * (1 - share) / share
            os.pwrite(fd, f"{time.time() + rest:.3f}".ljust(24).encode(), 0)
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the flock
        _process_slot.release()


def slot_may_open() -> bool:
    """A cheap look at the slot (no lock taken): False when it is surely closed right now."""
    if _process_slot.locked():
        return False
    try:
        fd = os.open(Path(current_app.instance_path) / "label-render.lock", os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        return time.time() >= _free_from(fd)
    finally:
        os.close(fd)


def _free_from(fd: int) -> float:
    try:
        return float(os.pread(fd, 24, 0).decode().strip() or 0)
    except ValueError:
        return 0.0


def _busy() -> RenderBusy:
    retry = max(1, round(float(current_app.config.get("LABEL_RENDER_WAIT", 0.0))))
    err = RenderBusy("Another label is being rendered; try again shortly (cached labels are served at once)",
                     extra={"retryAfter": retry})
    err.headers = {"Retry-After": str(retry)}
    return err


def _canonical(ext: str, opts: dict) -> tuple:
    """The options that change the bytes, quantised: whole millimetres and a few dpi steps."""
    width = labels.quantise_width(opts["width"])
    dpi = labels.quantise_dpi(opts["dpi"]) if ext == "png" else 0
    return (opts["lang"], opts["mode"], width, dpi, opts["link"], opts["variant"], opts["colour"],
            opts["print_"], opts["bleed"], opts["crops"])


@public.get("/labels/<cert_id>.<ext>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(tags=["public"], params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                              for n in ("lang", "mode", "width", "dpi", "link", "variant", "colour", "print",
                                        "bleed", "crops")])
def label(cert_id: str, ext: str):
    """A certificate's label as SVG, PNG or PDF; served whatever the status, since print runs last."""
    if ext not in FORMATS:
        raise NotFound(f"Labels come as {', '.join(FORMATS)}", type="label-format-unknown")
    options = _canonical(ext, LabelQuery().load(request.args.to_dict()))
    cache = current_app.extensions.setdefault("registry.label_responses", _LabelResponses())
    key = (cert_id, ext, options)
    prepared = cache.get(key)
    if prepared is None:
        disk = _disk_labels() if ext != "svg" else None  # SVG renders faster than a file read
        prepared = disk.get(key) if disk is not None else None
        if prepared is None:
            # Refuse before reading anything while the slot is closed: clients that retry at once
            # must not cost what a verification costs.
            if not slot_may_open():
                raise _busy()
            prepared = _prepare(cert_id, ext, *options)
            if disk is not None:
                disk.put(key, prepared)
        cache.put(key, prepared)
    if request.if_none_match.contains(prepared.etag):
        resp = Response(status=304)
    elif prepared.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        resp = Response(prepared.gzipped, mimetype=prepared.media_type)
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(prepared.content, mimetype=prepared.media_type)
    resp.headers.update(prepared.headers)
    resp.set_etag(prepared.etag)
    if prepared.gzipped is not None:
        resp.vary.add("Accept-Encoding")
    return resp


def _prepare(cert_id: str, ext: str, lang: str, mode: str, width: int | None, dpi: int, link: str,
             variant: str, colour: str, print_: str, bleed: int, crops: bool) -> _Prepared:
    cert = lookup.for_reading(get_session(), cert_id)
    data = label_data(cert, use_gs1=link == "gs1")
    labels.check_print(ext, print_, bleed, crops)
    if ext == "png":  # refuse an oversized raster before waiting for the slot
        labels.check_pixels(*labels.label_size_mm(data.kind, mode, width, variant), dpi)
    with render_slot():
        rendered = labels.render_label(data, fmt=ext, lang=lang, mode=mode, width_mm=width, dpi=dpi or 300,
                                       variant=variant, colour=colour, print_=print_, bleed_mm=bleed,
                                       crops=crops)
    # The label is a function of the signed credential: it never changes, whatever the status.
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-QR-Version": str(rendered.qr_version),
               "Content-Disposition": f'inline; filename="{cert.number}.{ext}"'}
    if rendered.warnings:
        headers["Warning"] = "; ".join(f'299 - "{w}"' for w in rendered.warnings)
        headers["X-Label-Warnings"] = " | ".join(rendered.warnings)
    if ext == "svg":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    if ext == "png":
        headers["X-Label-DPI"] = str(dpi)
    return _Prepared(rendered.content, rendered.media_type, headers)


@bp.post("/labels/export")
@doc(body=ExportIn, auth="body", tags=["certification body"], status=202)
@require("body")
def export_labels():
    """Queue an export of many of the body's own labels (ZIP or PDF sheet): 202 and the job's URL."""
    principal = current_principal()
    data = ExportIn().load(json_body())
    session = get_session()
    ids = list(dict.fromkeys(i.removeprefix("urn:uuid:") for i in data["certificates"]))
    owners: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        owners.update({cid: (body, kind) for cid, body, kind in session.execute(
            select(Certificate.id, Certificate.body_id, Certificate.type).where(Certificate.id.in_(chunk)))})
    missing = [i for i in ids if i not in owners]
    if missing:
        raise InvalidInput("Unknown certificates",
                           errors={"certificates": [f"Unknown certificate {i}" for i in missing[:100]]})
    if any(owners[i][0] != principal.body_id for i in ids):
        raise Forbidden("A body can export only its own certificates' labels", type="not-your-certificate")
    options = {k: data[k] for k in ("format", "formats", "lang", "mode", "variant", "colour")}
    options["print"] = data["print_"]
    options["width"] = labels.quantise_width(data["width"])
    labels.check_options(options)
    if options["format"] == "zip" and "png" in options["formats"]:
        for kind in {labels.KINDS.get(t, t) for _, t in owners.values()}:
            if kind in labels.KINDS.values():
                labels.check_pixels(*labels.label_size_mm(kind, options["mode"], options["width"],
                                                          options["variant"]), 300)
    job = jobs.create_export(session, principal.body_id, ids, options)
    session.commit()
    body = jobs.view(job, current_app.config["PUBLIC_URL"])
    return body, 202, {"Location": body["url"], "Cache-Control": "no-store"}


@bp.get("/jobs/<job_id>")
@doc(auth="body", tags=["certification body"])
@require("body")
def get_job(job_id: str):
    """A job's state and progress (done of total), its warnings, and the download link when done."""
    job = jobs.get_job(get_session(), job_id, current_principal().body_id)
    body = jobs.view(job, current_app.config["PUBLIC_URL"])
    headers = {"Cache-Control": "no-store"}
    if job.state in jobs.ACTIVE:
        headers["Retry-After"] = "2"
    return body, 200, headers


@bp.get("/jobs/<job_id>/download")
@doc(auth="body", tags=["certification body"])
@require("body")
def download_job(job_id: str):
    """The finished export's file (only for the body that created the job, until it expires)."""
    job = jobs.get_job(get_session(), job_id, current_principal().body_id)
    path = jobs.job_file(job)
    result = job.result or {}
    resp = send_file(path, mimetype=result.get("mediaType", "application/octet-stream"), as_attachment=True,
                     download_name=result.get("fileName", path.name), conditional=False, etag=False,
                     max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@public.get("/01/<gtin>")
@public.get("/01/<gtin>/<path:rest>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(tags=["public"], params=[{"name": "cert", "in": "query", "required": False, "schema": {"type": "string"},
                               "description": "the certificate a label printed this link for"}])
def digital_link(gtin: str, rest: str | None = None):
    """GS1 Digital Link resolver: the product's certificates (HTML page, GS1 linkset or JSON).

    A label's link names its own certificate (``?cert=<id>``) and opens that certificate's page,
    whatever else the product holds; without it, browsers get the product page.
    """
    if not gtin.isdigit() or len(gtin) not in (8, 12, 13, 14):
        raise NotFound("Not a GTIN", type="gtin-invalid")
    gtin = gtin.zfill(14)
    base = current_app.config["PUBLIC_URL"]
    session = get_session()
    wanted = request.args.get("cert")
    if wanted:
        cert = session.get(Certificate, wanted) if len(wanted) <= 36 else None
        if cert is None or cert.gtin != gtin:
            raise NotFound("No such certificate for this product", type="certificate-not-found")
        resp = redirect(f"{base}/v/{cert.id}", 302)
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp
    now = utcnow()
    rows = public_pages.product_certificates(session, gtin, now)
    current = [r for r in rows if r["status"] == "active"]
    links = [{"id": r["id"], "number": r["number"], "type": r["type"], "grade": r["grade"], "status": r["status"],
              "verifyUrl": f"{base}/v/{r['id']}"} for r in rows]
    best = request.accept_mimetypes.best_match(["text/html", "application/linkset+json", "application/json"])
    if request.args.get("format") == "json":
        best = "application/json"
    if best == "application/linkset+json" or request.args.get("linkType") == "all":
        return _linkset(base, gtin, links)
    if best == "application/json":
        if not current:
            raise NotFound("No current certificate for this product", type="no-current-certificate")
        return {"gtin": gtin, "certificates": [l for l in links if l["status"] == "active"]}
    resp = public_pages.product_page(gtin, rows)
    resp.headers["Link"] = ", ".join([f'<{base}/01/{gtin}>; rel="linkset"; type="application/linkset+json"']
                                     + [f'<{l["verifyUrl"]}>; rel="alternate"; title="{l["number"]}"'
                                        for l in links[:20]])
    return resp


def _linkset(base: str, gtin: str, links: list[dict]) -> Response:
    """RFC 9264 linkset with GS1 link types: the product page, then each certificate."""
    anchor = f"{base}/01/{gtin}"
    entry = {"anchor": anchor,
             "https://gs1.org/voc/defaultLink": [{"href": anchor, "type": "text/html", "hreflang": ["zh", "en"],
                                                  "title": "Product carbon certificates"}],
             "https://gs1.org/voc/certificationInfo": [
                 {"href": l["verifyUrl"], "type": "text/html", "hreflang": ["zh", "en"],
                  "title": f'{l["number"]} {l["type"]}{" grade " + l["grade"] if l["grade"] else ""} ({l["status"]})'}
                 for l in links]}
    resp = Response(json.dumps({"linkset": [entry]}, ensure_ascii=False), mimetype="application/linkset+json")
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['VERIFY_CACHE_SECONDS']}"
    resp.headers["Vary"] = "Accept"
    return resp
