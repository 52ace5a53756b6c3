"""Label exports as background jobs: 202, progress, a download only for the creating body, expiry."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from registry import worker
from registry.models import Job, utcnow

from ..conftest import MASTER_KEY
from ..factories import bearer, certificate_request, commit_body, make_body, token_for
from .test_label_endpoints import issued  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _tasks():
    worker.load_tasks()


def test_export_job_progress_then_download(app, client, session, issued):  # noqa: F811
    cert, headers, _ = issued
    ids = [cert["id"]] + [client.post("/api/v1/certificates", json=certificate_request(), headers=headers)
                          .get_json()["id"] for _ in range(2)]
    resp = client.post("/api/v1/labels/export", json={"certificates": ids, "format": "pdf-sheet"},
                       headers=headers)
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["state"] == "queued" and (job["done"], job["total"]) == (0, 3) and "download" not in job
    queued = client.get(job["url"], headers=headers)
    assert queued.headers["Retry-After"] and queued.get_json()["state"] == "queued"
    assert client.get(job["url"] + "/download", headers=headers).status_code == 409

    assert worker.run(app, once=True) >= 1
    done = client.get(job["url"], headers=headers).get_json()
    assert done["state"] == "done" and (done["done"], done["total"]) == (3, 3)
    assert done["warningCount"] == 0 and done["expiresAt"] > done["finishedAt"]
    pdf = client.get(done["download"], headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"] and "no-store" in pdf.headers["Cache-Control"]
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 1  # three 60 mm labels fit one A4 page
    files = list((Path(app.instance_path) / "exports").iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0

    # Another body sees neither the job nor its file.
    _, cid2, secret2 = make_body(session, app)
    other = bearer(token_for(client, cid2, secret2))
    assert client.get(job["url"], headers=other).status_code == 404
    assert client.get(done["download"], headers=other).status_code == 404
    assert client.get(done["download"]).status_code == 401

    # Once expired, the worker deletes the file and the download is gone.
    row = session.get(Job, job["id"])
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    worker.run(app, once=True)
    assert not files[0].exists()
    assert client.get(job["url"], headers=headers).get_json()["state"] == "expired"
    gone = client.get(done["download"], headers=headers)
    assert gone.status_code == 410 and gone.get_json()["type"].endswith("/job-expired")


def test_export_job_that_cannot_render_fails_with_reason(app, client, session, issued):  # noqa: F811
    cert, headers, _ = issued
    resp = client.post("/api/v1/labels/export",
                       json={"certificates": [cert["id"]], "format": "zip", "formats": ["png"], "width": 300},
                       headers=headers)
    assert resp.status_code == 422 and resp.get_json()["type"].endswith("/label-too-large")
    resp = client.post("/api/v1/labels/export", json={"certificates": [cert["id"], cert["id"]]}, headers=headers)
    job = resp.get_json()
    assert job["total"] == 1  # duplicates asked once
    # The certificate is gone by the time the worker gets to the job.
    row = session.get(Job, job["id"])
    row.params = {"certificates": ["no-such-certificate"], "options": row.params["options"]}
    session.commit()
    worker.run(app, once=True)
    failed = client.get(job["url"], headers=headers).get_json()
    assert failed["state"] == "failed" and "no longer exists" in failed["error"]["detail"]
    assert "download" not in failed


def test_a_body_has_few_exports_running_at_once(app, client, issued):  # noqa: F811
    cert, headers, _ = issued
    app.config["EXPORT_MAX_ACTIVE"] = 2
    for _ in range(2):
        assert client.post("/api/v1/labels/export", json={"certificates": [cert["id"]]}, headers=headers).status_code == 202
    refused = client.post("/api/v1/labels/export", json={"certificates": [cert["id"]]}, headers=headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    worker.run(app, once=True)
    assert client.post("/api/v1/labels/export", json={"certificates": [cert["id"]]}, headers=headers).status_code == 202


def test_worker_command_runs_an_export_for_the_live_server(live_server, database_url, tmp_path):
    exports = tmp_path / "exports"
    live_server.app.config["EXPORT_DIR"] = str(exports)
    _body, client_id, secret = commit_body(live_server.app)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        token = http.post("/auth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret)).json()["access_token"]
        headers = bearer(token)
        cert = http.post("/api/v1/certificates", json=certificate_request(), headers=headers).json()
        resp = http.post("/api/v1/labels/export", json={"certificates": [cert["id"]], "formats": ["svg", "pdf"]},
                         headers=headers)
        assert resp.status_code == 202
        env = dict(os.environ, REGISTRY_DATABASE_URL=database_url, REGISTRY_MASTER_KEY=MASTER_KEY,
                   REGISTRY_PUBLIC_URL=live_server.url, REGISTRY_EXPORT_DIR=str(exports), REGISTRY_ENV="development")
        done = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # other live-server tests may have queued jobs too
            run = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "registry", "worker", "--once"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr
            done = http.get(resp.headers["Location"], headers=headers).json()
            if done["state"] == "done":
                break
        assert done["state"] == "done", done
        archive = http.get(done["download"], headers=headers)
        assert archive.status_code == 200
        assert sorted(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == [
            f"{cert['number']}.pdf", f"{cert['number']}.svg"]


def test_warnings_reach_the_job_result_and_the_cli_summary(app, client, runner, issued, tmp_path):  # noqa: F811
    cert, headers, body = issued
    resp = client.post("/api/v1/labels/export",
                       json={"certificates": [cert["id"]], "format": "pdf-sheet", "width": 50}, headers=headers)
    for _ in range(20):  # jobs that live-server tests committed may be ahead of this one
        worker.run(app, once=True)
        job = client.get(resp.headers["Location"], headers=headers).get_json()
        if job["state"] == "done":
            break
    assert job["state"] == "done" and job["warningCount"] == 1
    assert job["warnings"][0]["certificateNumber"] == cert["number"]
    assert "hard to read" in job["warnings"][0]["message"] and job["warningCounts"][0]["labels"] == 1
    out = tmp_path / "labels.pdf"
    result = runner.invoke(args=["registry", "export-labels", "--body", body.code, "--out", str(out),
                                 "--format", "pdf-sheet", "--width", "50", "--print", "cmyk"])
    assert result.exit_code == 0, result.output
    assert "1 warnings:" in result.output and "hard to read" in result.output
    refused = runner.invoke(args=["registry", "export-labels", "--body", body.code, "--out", str(out),
                                  "--variant", "compact", "--mode", "offline"])
    assert refused.exit_code == 2 and "link" in refused.output


def test_compact_mono_export_refuses_sizes_no_label_can_have(client, issued):  # noqa: F811
    cert, headers, _ = issued
    bad = client.post("/api/v1/labels/export", json={"certificates": [cert["id"]], "variant": "compact",
                                                      "mode": "offline"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["type"].endswith("/label-too-small")
    ok = client.post("/api/v1/labels/export", json={"certificates": [cert["id"]], "variant": "compact",
                                                     "colour": "mono", "width": 15}, headers=headers)
    assert ok.status_code == 202
