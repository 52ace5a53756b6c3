"""Strict JSON-LD expansion for tests, with the W3C contexts read from ``tests/contexts``.

pyld has no safe mode; :func:`strict_expand` is the equivalent check: expansion must raise no
error, drop no property (pyld's ``on_property_dropped``), and leave no term undefined: every
property and ``@type`` must expand to an absolute IRI, none into the VC ``issuer-dependent``
vocabulary (what an undefined term would become under an ``@vocab``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from pyld import jsonld

CONTEXTS = Path(__file__).resolve().parent / "contexts"
W3C_CONTEXTS = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://www.w3.org/ns/cid/v1": "cid-v1.jsonld",
}
ISSUER_DEPENDENT = "https://www.w3.org/ns/credentials/issuer-dependent#"
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*")


def w3c_context(url: str) -> dict:
    return json.loads((CONTEXTS / W3C_CONTEXTS[url]).read_text(encoding="utf-8"))


def offline_loader(extra: dict[str, Any] | None = None) -> Callable:
    """A pyld document loader serving the W3C contexts and *extra* ({url: document}); any other URL fails."""
    documents = {url: w3c_context(url) for url in W3C_CONTEXTS}
    documents.update(extra or {})

    def load(url: str, options: dict | None = None) -> dict:
        if url not in documents:
            raise jsonld.JsonLdError(f"offline test loader: no copy of {url}", "jsonld.LoadDocumentError",
                                     code="loading document failed")
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": documents[url]}

    return load


def strict_expand(document: dict, loader: Callable) -> tuple[list, list[str]]:
    """(expanded document, problems). Raises pyld's JsonLdError on an expansion error."""
    dropped: list[str] = []
    # Each call gets a fresh processor cache: a context served differently by another test must not leak in.
    jsonld._resolved_context_cache.clear()
    expanded = jsonld.expand(document, {"documentLoader": loader}, on_property_dropped=dropped.append)
    problems = [f"property dropped: {p!r}" for p in dropped]
    _check(expanded, problems, "$")
    return expanded, problems


def _check(value: Any, problems: list[str], where: str) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, problems, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "@type" and "@value" not in value:
            for t in item if isinstance(item, list) else [item]:
                if not _ABSOLUTE_IRI.fullmatch(t) or t.startswith(ISSUER_DEPENDENT):
                    problems.append(f"undefined type {t!r} at {where}")
        elif key == "@id" and not (_ABSOLUTE_IRI.fullmatch(item) or item.startswith("_:")):
            problems.append(f"relative @id {item!r} at {where}")
        elif not key.startswith("@") and (not _ABSOLUTE_IRI.fullmatch(key) or key.startswith(ISSUER_DEPENDENT)):
            problems.append(f"undefined term {key!r} at {where}")
        if key != "@value":
            _check(item, problems, f"{where}.{key}")
