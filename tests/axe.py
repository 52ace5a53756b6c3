"""axe-core accessibility checks for pages in headless Chromium (WCAG 2.2 AA rules).

axe-core comes from npm (``scripts/test.sh`` installs it into ``tests/.node``). It runs through
``page.evaluate``, which the page's CSP does not govern, so the pages keep their strict policy.
"""

from __future__ import annotations

import json
from pathlib import Path

AXE = Path(__file__).resolve().parent / ".node" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def axe_source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"axe-core is missing at {AXE}: run scripts/test.sh (it installs it with npm)")
    return AXE.read_text()


def axe_violations(page) -> list[dict]:
    """The violations axe-core finds on the page once it has loaded (an empty list is a pass)."""
    # After a form's submit the next page may still be arriving: checked before its stylesheet
    # applies, its links measure as unstyled text (target-size), which says nothing of the page.
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def assert_accessible(page, what: str = "") -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core violations on {what or page.url}:\n{json.dumps(violations, indent=1)}"
