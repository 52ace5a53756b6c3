"""The verifier must run without the registry: no flask, sqlalchemy or registry imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "sqlalchemy", "registry", "werkzeug", "marshmallow")

PROBE = """
import json, sys, io, contextlib
import verifier
import verifier._credential, verifier._resolvers, verifier._trust, verifier._statuslist, verifier._errors
import verifier.offline, verifier.grading
from verifier._cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = main(["--help"])
loaded = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"code": code, "help": buf.getvalue(), "modules": loaded,
                  "all": sorted(verifier.__all__)}))
"""


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_importing_verifier_and_running_the_cli_loads_no_registry_code():
    proc = _run(PROBE)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["code"] == 0 and "carbon-verify" in out["help"]
    loaded = set(out["modules"])
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)
    # the optional image extra is imported lazily, only when an image is read
    assert "zxingcpp" not in loaded and "PIL" not in loaded
    assert {"jwt", "cryptography"} <= loaded


def test_python_dash_m_verifier_help():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "verifier", "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "usage: carbon-verify" in proc.stdout


def test_public_api_is_exported():
    import verifier

    for name in verifier.__all__:
        assert hasattr(verifier, name), name
    for name in ("verify_credential", "build_credential", "HttpResolver", "OfflineResolver", "TrustList",
                 "encode_list", "decode_list", "VerifierError"):
        assert name in verifier.__all__


def test_every_public_function_documents_what_it_raises():
    import inspect

    import verifier

    missing = []
    for name in verifier.__all__:
        obj = getattr(verifier, name)
        if inspect.isfunction(obj):
            doc = inspect.getdoc(obj) or ""
            if "Raises" not in doc and "raises" not in doc.lower():
                missing.append(name)
    assert missing == []
