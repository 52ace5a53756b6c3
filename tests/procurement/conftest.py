"""The registry on a real TLS socket (a throwaway CA from trustme), and a live requester beside it.

The requester plays a PACT data recipient and a webhook receiver: its own ``/auth/token``,
``/3/events`` and ``/hooks/<name>``, all recorded.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import trustme
import yaml
from jsonschema import Draft202012Validator
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from registry import create_app, worker

from ..conftest import app_config, basic
from ..factories import commit_body, footprint, product

SPEC_DIR = Path(__file__).resolve().parent / "pact-spec"


@pytest.fixture(scope="session")
def pact_spec() -> dict:
    return yaml.safe_load((SPEC_DIR / "openapi-3.0.yaml").read_text())


def pact_validate(spec: dict, instance, ref: str) -> None:
    """Validate ``instance`` against ``#/components/...`` of the PACT v3 OpenAPI document."""
    root = {**spec, "$ref": ref}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)


def pact_list_schema(spec: dict) -> dict:
    return spec["paths"]["/3/footprints"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def validate_list(spec: dict, body: dict) -> None:
    Draft202012Validator({**spec, **pact_list_schema(spec)},
                         format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return {"ca": ca, "ca_file": str(ca_file), "server_context": ctx}


class TLSServer:
    """A WSGI app on 127.0.0.1 over real TLS, in a thread."""

    def __init__(self, wsgi, ssl_context):
        self.server = make_server("127.0.0.1", 0, wsgi, threaded=True, ssl_context=ssl_context)
        self.port = self.server.server_port
        self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Registry:
    def __init__(self, database_url, instance, tls, **config):
        holder = {}
        self.tls_server = TLSServer(lambda env, start: holder["app"](env, start), tls["server_context"])
        self.url = self.tls_server.url
        self.app = holder["app"] = create_app(app_config(
            database_url, PUBLIC_URL=self.url, ALLOW_PRIVATE_CALLBACKS=True, CALLBACK_CA_FILE=tls["ca_file"],
            DELIVERY_RETRY_BASE_SECONDS=0, EXPIRY_SCAN_SECONDS=0, **config))
        self.app.instance_path = str(instance)
        self.http = httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=tls["ca_file"]),
                                 timeout=20)

    def run_worker(self, rounds: int = 1) -> int:
        worker.load_tasks()
        return sum(worker.run(self.app, once=True) for _ in range(rounds))

    def cli(self, *args) -> dict:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def token(self, client_id: str, secret: str) -> str:
        resp = self.http.post("/auth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": basic(client_id, secret)})
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def close(self):
        self.http.close()
        self.tls_server.close()


@pytest.fixture(scope="session")
def registry_tls(engine, database_url, tmp_path_factory, tls):
    reg = Registry(database_url, tmp_path_factory.mktemp("tls-instance"), tls)
    yield reg
    reg.close()


class Requester:
    """A PACT data recipient and webhook receiver: token endpoint, events endpoint, hooks; all recorded."""

    def __init__(self, tls):
        self.client_id = "registry-at-requester"
        self.client_secret = secrets.token_urlsafe(16)
        self.tokens: set[str] = set()
        self.token_requests: list[dict] = []
        self.events: list[dict] = []
        self.hooks: list[dict] = []
        self.hook_status: dict[str, list[int]] = {}  # name -> statuses to answer in turn
        self.hook_delay: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.server = TLSServer(self._wsgi, tls["server_context"])
        self.url = self.server.url

    def _wsgi(self, environ, start_response):
        req = Request(environ)
        resp = self._handle(req)
        return resp(environ, start_response)

    def _handle(self, req: Request) -> Response:
        if req.path == "/auth/token" and req.method == "POST":
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            with self.lock:
                self.token_requests.append({"authorization": req.headers.get("Authorization"),
                                            "form": dict(req.form)})
            if req.headers.get("Authorization") != expected or req.form.get("grant_type") != "client_credentials":
                return Response(json.dumps({"error": "invalid_client"}), 401, mimetype="application/json")
            token = secrets.token_urlsafe(16)
            self.tokens.add(token)
            return Response(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 60}),
                            mimetype="application/json")
        if req.path == "/3/events" and req.method == "POST":
            scheme, _, token = req.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or token not in self.tokens:
                return Response(json.dumps({"code": "BadRequest", "message": "bad token"}), 401)
            with self.lock:
                self.events.append({"headers": dict(req.headers), "body": json.loads(req.get_data())})
            return Response("", 200)
        if req.path.startswith("/hooks/") and req.method == "POST":
            name = req.path.removeprefix("/hooks/")
            gate = self.hook_delay.get(name)
            if gate is not None:
                gate.wait(30)
            with self.lock:
                self.hooks.append({"name": name, "headers": dict(req.headers), "raw": req.get_data()})
                statuses = self.hook_status.get(name)
                status = statuses.pop(0) if statuses else 204
            return Response("", status)
        return Response("not here", 404)

    def hooks_for(self, name: str) -> list[dict]:
        with self.lock:
            return [h for h in self.hooks if h["name"] == name]

    def close(self):
        for gate in self.hook_delay.values():
            gate.set()
        self.server.close()


@pytest.fixture(scope="session")
def requester(tls):
    req = Requester(tls)
    yield req
    req.close()


def wait_for(predicate, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def random_gtin() -> str:
    body = f"69{uuid.uuid4().int % 10**11:011d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


class Supplier:
    """A committed body issuing certificates for one manufacturer over the TLS API."""

    def __init__(self, reg: Registry):
        self.reg = reg
        _, client_id, secret = commit_body(reg.app)
        self.headers = {"Authorization": f"Bearer {reg.token(client_id, secret)}"}
        self.manufacturer = f"urn:uscc:91{uuid.uuid4().hex[:16].upper()}"

    def issue(self, gtin: str | None = None, **overrides) -> dict:
        prod = product(manufacturer={"name": "Anhui Demo Cement Co.", "id": self.manufacturer})
        prod["gtin"] = gtin or random_gtin()
        request = {"type": "carbon-footprint", "product": prod, "footprint": footprint(),
                   "validUntil": "2028-12-31T23:59:59Z", **overrides}
        resp = self.reg.http.post("/api/v1/certificates", json=request, headers=self.headers)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def change(self, cert_id: str, action: str) -> dict:
        resp = self.reg.http.post(f"/api/v1/certificates/{cert_id}/{action}", json={"reason": "test"},
                                  headers=self.headers)
        assert resp.status_code == 200, resp.text
        return resp.json()
