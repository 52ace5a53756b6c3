"""Static artwork once per design, the certificate's own parts per label.

Most of a label is the same for every certificate of one design (kind, language, mode, size,
variant, colour): header band, motif, titles, captions, scale, frame. That *static layer* is
found by rendering two fixed reference certificates of the design and keeping the top-level
SVG elements both share, byte for byte. A label whose SVG contains every one of them is drawn
as that layer (rasterised once, or one PDF form XObject) plus its remaining elements; any other
label is drawn whole. Element strings are compared exactly, so a layered label shows nothing a
whole render would not; the layer is under the label's own elements, which never overlap the
static elements drawn after them (the frame at the edge, captions).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Split", "split_svg", "static_elements", "layered"]

_TAG = re.compile(r"<(/?)([a-zA-Z]+)[^>]*>")


@dataclass(frozen=True)
class Split:
    """An SVG as its opening tag, its top-level elements in order, and nothing else."""

    open_tag: str
    elements: tuple[str, ...]


@lru_cache(maxsize=256)
def split_svg(svg: str) -> Split:
    """Top-level elements of one of our label SVGs (``<title>`` and ``<desc>`` left out)."""
    first = _TAG.search(svg)
    open_tag = svg[:first.end()]
    elements = []
    depth = 0
    start = None
    for m in _TAG.finditer(svg, first.end()):
        closing, name = m.group(1), m.group(2)
        selfclosing = m.group(0).endswith("/>")
        if name == "svg" and closing:
            break
        if depth == 0 and not closing:
            start = m.start()
        if closing:
            depth -= 1
        elif not selfclosing:
            depth += 1
        if depth == 0 and start is not None:
            element = svg[start:m.end()]
            if name not in ("title", "desc"):
                elements.append(element)
            start = None
    return Split(open_tag, tuple(elements))


@lru_cache(maxsize=64)
def static_elements(kind: str, options: tuple) -> tuple[str, ...]:
    """The elements two reference labels of this design share (in document order)."""
    from . import _render

    a, b = (split_svg(_render.render_svg(reference_label_data(kind, i), *options).svg).elements
            for i in (0, 1))
    shared = set(b)
    return tuple(e for e in a if e in shared)


_REF = (  # what differs between the two reference certificates of a design
    {"grade": 0, "name": "Reference product one", "nameZh": "参考产品一号", "unit": "kilogram",
     "issuer": ("Reference body one", "参考机构一"), "validUntil": "2027-06-30T23:59:59Z"},
    {"grade": 2, "name": "Another reference item", "nameZh": "另一个参考样品", "unit": "liter",
     "issuer": ("Other reference body", "另一参考机构"), "validUntil": "2029-01-15T23:59:59Z"},
)


@lru_cache(maxsize=16)
def reference_label_data(kind: str, i: int):
    """A fixed certificate of ``kind`` (no real signature: labels never verify it)."""
    import base64
    import json

    from ._data import label_data_from_credential
    from .samples import GRADES, sample_credential

    ref = _REF[i]
    graded = [g for g in GRADES[kind] if g is not None]
    payload = sample_credential(kind, graded[ref["grade"] % len(graded)], serial=990 + i)
    subject = payload["credentialSubject"]
    subject["product"] = dict(subject["product"], name=ref["name"], nameZh=ref["nameZh"])
    if "footprint" in subject:
        subject["footprint"] = dict(subject["footprint"], declaredUnitOfMeasurement=ref["unit"])
    payload["validUntil"] = ref["validUntil"]

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "EdDSA", "typ": "vc+jwt"}, separators=(",", ":")).encode())
    token = ".".join((header, b64(json.dumps(payload, separators=(",", ":")).encode()), b64(bytes(64))))
    return label_data_from_credential(payload, compact_jws=token, issuer_name=ref["issuer"][0],
                                      issuer_name_zh=ref["issuer"][1], verify_url=subject["id"])


def layered(kind: str, options: tuple, svg: str) -> tuple[Split, tuple[str, ...], str] | None:
    """(split SVG, its own elements, layer id) if the label can be drawn over the design's
    static layer; None if it must be drawn whole."""
    static = static_elements(kind, options)
    if len(static) < 3:
        return None
    split = split_svg(svg)
    mine = set(split.elements)
    if any(e not in mine for e in static):
        return None
    shared = set(static)
    own = tuple(e for e in split.elements if e not in shared)
    layer_id = hashlib.sha256("\n".join(static).encode()).hexdigest()[:16]
    return split, own, layer_id
