"""Dates at the calendar's edge with an offset are malformed input, never a crash."""

from __future__ import annotations

import base64
import json

import pytest

from verifier import parse_time
from verifier._cli import main

from .helpers import BASE

EDGES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("value", EDGES)
def test_parse_time_refuses_what_utc_cannot_hold(value):
    with pytest.raises(ValueError):
        parse_time(value)


@pytest.mark.parametrize("field", ["validFrom", "validUntil"])
@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize("signed", [False, True])
def test_cli_answers_malformed(world, tmp_path, capsys, field, value, signed):
    payload = world.payload()
    payload[field] = value
    if signed:
        token = world.issue(payload=payload) if field == "validUntil" else None
        if token is None:  # the signing key is chosen by validFrom: sign with the current one
            token = world.issue(payload=payload, key=world.cqc.keys[-1])
    else:
        token = ".".join([_b64({"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": world.cqc.keys[-1].kid}),
                          _b64(payload), base64.urlsafe_b64encode(b"\0" * 64).rstrip(b"=").decode()])
    path = tmp_path / "cred.jwt"
    path.write_text(token)
    code = main(["--json", "--registry", BASE, "--data-dir", str(tmp_path / "data"), str(path)], fetch=world.fetch)
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert json.loads(out)["errors"][0]["code"] == "MALFORMED"


@pytest.mark.parametrize("value", EDGES)
def test_cli_at_option_is_a_usage_error(tmp_path, capsys, value):
    path = tmp_path / "cred.jwt"
    path.write_text("a.b.c")
    assert main(["--at", value, "--offline", str(path)]) == 2
