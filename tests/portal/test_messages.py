"""Every refusal the rules and services can write, and every audit action the code records, reads
as Chinese on a Chinese page. The messages are found in the source (so a new rule without a
translation fails here), with sample values where the English names values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from registry.portal.filters import AUDIT_ACTIONS, audit_action
from registry.portal.messages import translate
from registry.services.revocation import TRANSITIONS

from .zh_text import english_words

ROOT = Path(__file__).resolve().parents[2] / "registry"
SOURCES = sorted([*(ROOT / "domain").glob("*.py"), *(ROOT / "services").glob("*.py")])
#: Calls whose string arguments are refusals people may read.
REFUSALS = {"RegistryError", "InvalidInput", "Conflict", "Forbidden", "NotFound", "NotAccredited", "OutOfScope",
            "Unauthorized", "_refuse", "field_error", "add", "raise_if_any"}
#: Sample values for the parts of an f-string, by the name of what is formatted.
SAMPLES = {"kind": "reduced-carbon", "record.kind": "low-carbon", "status": "suspended", "record.status": "revoked",
           "body.status": "suspended", "cert.status": "revoked", "target": "revoked", "unit": "kilogram",
           "what": "gases", "name": "use", "boundary": "cradle-to-gate", "why": "category differs (a vs b)",
           "category": "cement", "code": "cement", "wanted": "CB01"}


def _sample(node: ast.expr) -> str:
    text = ast.unparse(node)
    if text in SAMPLES:
        return SAMPLES[text]
    if text in ("minimum", "maximum", "len(records)", "EARLIEST_VINTAGE", "BATCH_LIMIT"):
        return "2"
    if text.endswith("label()"):
        return "CB-2026-000001 (urn:uuid:0b4f0c2e-0000-4000-8000-000000000001)"
    if text.endswith("period()"):
        return "2024-01-01T00:00:00Z – 2024-12-31T23:59:59Z"
    if "join" in text:
        return "A, B"
    return "12.5"


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else _sample(v.value) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + (right or "") if left is not None else None
    if isinstance(node, ast.IfExp):
        return _text(node.body)
    return None


def refusals() -> list[tuple[str, str]]:
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            texts = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in REFUSALS:
                    texts += [_text(a) for a in node.args]
                    texts += [_text(k.value) for k in node.keywords if k.arg == "detail"]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("message", "detail")
                                                      for t in node.targets):
                texts.append(_text(node.value))
            for text in texts:
                # a message is a sentence; paths and slugs passed alongside are not
                if text and " " in text and text[0].isupper():
                    found.append((path.name, text))
    return sorted(set(found))


def test_the_source_scan_finds_the_rules():
    texts = [t for _, t in refusals()]
    assert len(texts) > 60
    assert any(t.startswith("The footprint went from") for t in texts)
    assert any(t.startswith("Must be null:") for t in texts)


@pytest.mark.parametrize(("module", "message"), refusals())
def test_every_refusal_reads_as_chinese(app, module, message):
    with app.test_request_context("/portal/?lang=zh"):
        shown = translate(message)
    assert shown != message or not english_words(message), f"{module}: not translated: {message}"
    assert not english_words(shown, {"cement", "CB-2026-000001"}), f"{module}: {message!r} → {shown!r}"


def recorded_actions() -> set[str]:
    """Every action string passed to ``audit.record`` (f-strings expanded over their values)."""
    actions = set()
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"):
                continue
            for kw in node.keywords:
                if kw.arg != "action":
                    continue
                if isinstance(kw.value, ast.Constant):
                    actions.add(kw.value.value)
                elif isinstance(kw.value, ast.IfExp):
                    actions.update((kw.value.body.value, kw.value.orelse.value))
                elif isinstance(kw.value, ast.JoinedStr) and ast.unparse(kw.value) == "f'certificate.{target}'":
                    actions.update(f"certificate.{target}" for _, target in TRANSITIONS.values())
                else:
                    actions.add(f"unknown: {ast.unparse(kw.value)} in {path.name}")
    return actions


def test_every_recorded_audit_action_has_a_chinese_label(app):
    actions = recorded_actions()
    assert {"certificate.issued", "certificate.active", "body.suspended", "user.signed-in"} <= actions
    assert actions <= set(AUDIT_ACTIONS), sorted(actions - set(AUDIT_ACTIONS))
    with app.test_request_context("/portal/?lang=zh"):
        for action in actions:
            label = audit_action(action)
            assert label != action and not english_words(label), (action, label)
