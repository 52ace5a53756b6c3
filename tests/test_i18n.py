"""The gettext catalogs are complete and fresh: every message translated into Chinese, each
``.mo`` compiled from its current ``.po``, and extracting the sources again finds nothing new
(run ``scripts/i18n.sh`` and translate the new entries when this fails)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "registry" / "translations"
#: The sources each catalog is extracted from (as scripts/i18n.sh does).
SOURCES = {
    "consumer": ["registry/templates", "registry/api", "registry/public_pages.py", "registry/public"],
    "portal": ["registry/portal"],
}
CATALOGS = sorted(p.name for p in TRANSLATIONS.iterdir() if p.is_dir()) if TRANSLATIONS.exists() else []


def _po(catalog: str, lang: str):
    path = TRANSLATIONS / catalog / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def test_there_are_catalogs():
    assert "portal" in CATALOGS


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_message_translated_into_chinese(catalog):
    untranslated = [m.id for m in _po(catalog, "zh") if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)]
    assert not untranslated, f"{catalog}: untranslated or fuzzy in zh: {untranslated[:10]}"


@pytest.mark.parametrize("catalog", CATALOGS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compiled_catalog_matches_its_source(catalog, lang):
    po = _po(catalog, lang)
    mo_path = TRANSLATIONS / catalog / lang / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run scripts/i18n.sh"
    with mo_path.open("rb") as fh:
        mo = read_mo(fh)
    def norm(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    expected = {norm(m.id): norm(m.string) for m in po if m.id and m.string and not m.fuzzy
                and not (isinstance(m.string, tuple) and not all(m.string))}
    # write_mo stores an untranslated plural as its msgids; that is no translation
    compiled = {norm(m.id): norm(m.string) for m in mo if m.id and norm(m.string) != norm(m.id)}
    expected = {k: v for k, v in expected.items() if v != k}
    assert compiled == expected, f"{mo_path} is stale: run scripts/i18n.sh"


@pytest.mark.parametrize("catalog", CATALOGS)
def test_extraction_adds_nothing_new(catalog, tmp_path):
    sources = [s for s in SOURCES.get(catalog, []) if (ROOT / s).exists()]
    if not sources:
        pytest.skip(f"no known sources for the {catalog} catalog")
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()", "-q", "extract",
                    "-F", "babel.cfg", "--no-location", "--sort-output", "-k", "_l", "-o", str(out), *sources],
                   cwd=ROOT, check=True)
    with out.open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    known = {m.id for m in _po(catalog, "zh") if m.id}
    new = sorted(str(i) for i in extracted - known)
    assert not new, f"{catalog}: messages missing from the catalog (run scripts/i18n.sh): {new[:10]}"
