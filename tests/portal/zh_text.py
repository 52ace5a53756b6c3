"""English words on a page meant to be Chinese: what the zh page tests look for.

Text is every text node a person can see or hear (including visually hidden text, ``title``,
``alt``, ``aria-label`` and ``placeholder``), minus ``<script>``, ``<style>``, ``<code>`` (file
columns and ids people type) and elements marked with another ``lang`` (the "English" switch).
A word is refused unless it is a code: it holds a digit, ``@``, ``://`` or ``urn:``, is written
in capitals (GTIN, PDF, CCER), or is in :data:`ALLOWED`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Names and units that are written in Latin letters in Chinese text too.
ALLOWED = {"ISO", "GTIN", "PDF", "PNG", "SVG", "XLSX", "CSV", "TOTP", "API", "QR", "kg", "t", "mm", "CO2e",
           "https", "http", "GB/T", "HFCs", "PFCs", "IPCC", "PACT", "JSON", "URN", "URL", "v", "JWS", "Ed25519", "EdDSA"}
SKIP = {"script", "style", "code", "template"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SHOWN_ATTRS = ("title", "alt", "aria-label", "placeholder")
_RUN = re.compile(r"[A-Za-z0-9_.,:;/@+\-#%&?=~'()\[\]]+")
_WORD = re.compile(r"[A-Za-z]{2,}")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.parts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = (attrs.get("lang") or "").lower()
        skip = self._skipped() or tag in SKIP or (bool(lang) and not lang.startswith("zh"))
        if not skip:
            for name in SHOWN_ATTRS:
                if attrs.get(name):
                    self.parts.append(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipped():
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def english_words(html: str, allowed: set[str] = frozenset()) -> list[str]:
    """The English words (in context) on a page that should be all Chinese; empty is a pass."""
    found = []
    for run in _RUN.findall(visible_text(html)):
        token = run.strip(".,:;()[]'\"-")
        if not token or token in ALLOWED or token in allowed:
            continue
        if any(c.isdigit() for c in token) or "@" in token or "://" in token or token.startswith("urn:"):
            continue
        words = _WORD.findall(token)
        if all(w.isupper() or w in ALLOWED or w in allowed for w in words):
            continue
        found.append(token)
    return found
