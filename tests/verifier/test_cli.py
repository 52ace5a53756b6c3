"""carbon-verify through main([...]) with capsys; only the network is faked."""

from __future__ import annotations

import io
import json
import sys

import pytest

from verifier import set_bit
from verifier._cli import main
from verifier.offline import offline_url

from .helpers import BASE, b64d, footprint_subject, no_network


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def cert_id(token):
    return json.loads(b64d(token.split(".")[1]))["id"][9:]


def run(argv, capsys, fetch=None):
    code = main([str(a) for a in argv], fetch=fetch)
    out, err = capsys.readouterr()
    return code, out, err


def test_verified_credential_exits_0_with_a_readable_summary(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    code, out, err = run(["--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 0, out + err
    assert out.startswith("✓ VERIFIED")
    for text in ("P.O 42.5 cement", "CQC-2026-000123", "B (cn-carbon-label version 1)", "CQC Certification",
                 "0.82 kg CO2e per 1 kilogram", "✓ signature", "✓ status", "Status information as of"):
        assert text in out, text


def test_json_output_is_the_contract_result(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    code, out, _ = run(["--json", "--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 0
    result = json.loads(out)
    assert result["verified"] is True and result["errors"] == []
    assert [c["name"] for c in result["checks"]][:4] == ["structure", "issuer", "key", "signature"]
    assert result["credential"]["issuer"] == world.cqc.did


def test_revoked_credential_exits_1(world, tmp_path, data_dir, capsys):
    token = world.issue()
    set_bit(world.revocation, world.last_index, True)
    path = write(tmp_path, "cred.jwt", token)
    code, out, _ = run(["--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 1
    assert out.startswith("✗ NOT VERIFIED: REVOKED")
    assert "not verified" in out  # the claims are labelled as unverified
    code, out, _ = run(["--json", "--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 1 and [e["code"] for e in json.loads(out)["errors"]] == ["REVOKED"]


def test_inflated_grade_exits_1(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue(subject=footprint_subject(grade="A")))
    code, out, _ = run(["--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 1 and "GRADE_MISMATCH" in out


def test_garbage_input_exits_1_as_malformed(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.txt", "hello")
    code, out, _ = run(["--json", "--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 1 and json.loads(out)["errors"][0]["code"] == "MALFORMED"


def test_stdin(world, data_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(world.issue().encode() + b"\n")))
    code, out, _ = run(["--registry", BASE, "--data-dir", data_dir, "-"], capsys, world.fetch)
    assert code == 0, out


def test_literal_token_argument(world, data_dir, capsys):
    code, _, _ = run(["--registry", BASE, "--data-dir", data_dir, world.issue()], capsys, world.fetch)
    assert code == 0


@pytest.mark.parametrize("argv, message", [
    (["/no/such/file.jwt"], "no such file"),
    ([], "exactly one INPUT"),
    (["a.jwt", "b.jwt"], "exactly one INPUT"),
    (["--frobnicate", "x"], "unrecognized arguments"),
    (["--at", "tomorrow", "x"], "--at"),
])
def test_usage_errors_exit_2(world, data_dir, capsys, argv, message):
    code, _, err = run(["--registry", BASE, "--data-dir", data_dir, *argv], capsys, world.fetch)
    assert code == 2
    assert message in err


def test_no_registry_is_a_usage_error(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    code, _, err = run(["--data-dir", data_dir, path], capsys, no_network)
    assert code == 2 and "--registry" in err


def test_help_exits_0(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "--offline" in out and "--trust-list" in out


def test_offline_after_save_offline_uses_no_network(world, tmp_path, data_dir, capsys):
    token = world.issue()
    path = write(tmp_path, "cred.jwt", token)
    code, out, err = run(["--save-offline", data_dir, "--registry", BASE, path], capsys, world.fetch)
    assert code == 0, err
    assert "trust list" in out and "status/r1.jwt" in out
    code, out, err = run(["--offline", "--data-dir", data_dir, path], capsys, no_network)
    assert code == 0, out + err
    assert "Status information as of" in out and "saved offline data" in out
    code, out, _ = run(["--json", "--offline", "--data-dir", data_dir, path], capsys, no_network)
    assert code == 0 and "statusAsOf" in json.loads(out)


def test_offline_without_saved_data_exits_1(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    code, out, _ = run(["--offline", "--data-dir", data_dir, path], capsys, no_network)
    assert code == 1 and "STATUS_UNAVAILABLE" in out and "--save-offline" in out


def test_save_offline_failure_exits_1(world, tmp_path, capsys):
    code, _, err = run(["--save-offline", tmp_path / "d", "--registry", BASE], capsys, no_network)
    assert code == 1 and "could not save" in err


def test_trust_list_file_with_pinned_jwks(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    tl = write(tmp_path, "trust-list.jwt", world.trust_list_jws())
    jwks = write(tmp_path, "jwks.json", json.dumps(world.jwks))
    code, out, _ = run(["--trust-list", tl, "--registry-jwks", jwks, "--registry", BASE, "--data-dir", data_dir,
                        path], capsys, world.fetch)
    assert code == 0, out
    fetched = [u for u, _ in world.requests]
    assert f"{BASE}/trust-list" not in fetched and f"{BASE}/.well-known/jwks.json" not in fetched


def test_trust_list_url_gives_the_registry(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "cred.jwt", world.issue())
    code, out, _ = run(["--trust-list", f"{BASE}/trust-list", "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 0, out


# -- images ----------------------------------------------------------------------------------------


def qr_png(text, path):
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=4, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    qr.make_image().save(path)
    return str(path)


def test_png_of_an_offline_label_qr_verifies(world, tmp_path, data_dir, capsys):
    token = world.issue()
    text = offline_url(f"{BASE}/v/{cert_id(token)}", token)
    png = qr_png(text, tmp_path / "label.png")
    code, out, err = run(["--registry", BASE, "--data-dir", data_dir, png], capsys, world.fetch)
    assert code == 0, out + err
    assert not any("/api/v1/certificates/" in u for u, _ in world.requests)  # the credential came from the QR


def test_png_of_a_link_label_fetches_the_credential(world, tmp_path, data_dir, capsys):
    token = world.issue()
    png = qr_png(f"{BASE}/v/{cert_id(token)}", tmp_path / "link.png")
    code, out, err = run(["--registry", BASE, "--data-dir", data_dir, png], capsys, world.fetch)
    assert code == 0, out + err
    assert f"{BASE}/api/v1/certificates/{cert_id(token)}" in [u for u, _ in world.requests]


def test_jpeg_of_a_link_label(world, tmp_path, data_dir, capsys):
    from PIL import Image

    token = world.issue()
    png = qr_png(f"{BASE}/v/{cert_id(token)}", tmp_path / "link.png")
    jpg = tmp_path / "link.jpg"
    Image.open(png).convert("RGB").save(jpg, quality=85)
    code, out, err = run(["--registry", BASE, "--data-dir", data_dir, jpg], capsys, world.fetch)
    assert code == 0, out + err


def test_link_label_offline_cannot_be_verified(world, tmp_path, data_dir, capsys):
    token = world.issue()
    path = write(tmp_path, "scan.txt", f"{BASE}/v/{cert_id(token)}")
    code, out, _ = run(["--json", "--offline", "--data-dir", data_dir, path], capsys, no_network)
    assert code == 1
    error = json.loads(out)["errors"][0]
    assert error["code"] == "MALFORMED" and "link" in error["message"]


def test_link_to_unknown_certificate_exits_1(world, tmp_path, data_dir, capsys):
    path = write(tmp_path, "scan.txt", f"{BASE}/v/0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11")
    code, out, _ = run(["--json", "--registry", BASE, "--data-dir", data_dir, path], capsys, world.fetch)
    assert code == 1 and "no certificate" in json.loads(out)["errors"][0]["message"]


def test_image_without_a_qr_code_exits_2(tmp_path, data_dir, capsys):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    code, _, err = run(["--registry", BASE, "--data-dir", data_dir, blank], capsys, no_network)
    assert code == 2 and "no QR code" in err


def test_image_without_the_extra_installed_exits_2(world, tmp_path, data_dir, capsys, monkeypatch):
    png = qr_png(f"{BASE}/v/0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11", tmp_path / "x.png")
    monkeypatch.setitem(sys.modules, "zxingcpp", None)  # import zxingcpp → ImportError
    code, _, err = run(["--registry", BASE, "--data-dir", data_dir, png], capsys, no_network)
    assert code == 2 and "pip install 'zxing-cpp>=2.2' 'pillow>=10'" in err
    # The advice names exactly what the image extra installs.
    import tomllib
    from pathlib import Path

    extra = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]["image"]
    assert all(f"'{req}'" in err for req in extra), (extra, err)
