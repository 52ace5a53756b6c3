"""``carbon-verify``: verify a carbon label certificate from a file, stdin or a photo of its QR code.

A thin shell over :func:`verifier.verify_credential` and the resolvers in the resolvers in ``verifier``::

    carbon-verify [--json] [--trust-list FILE_OR_URL] [--registry URL] [--registry-jwks FILE]
                  [--offline] [--data-dir DIR] [--at TIME] [--save-offline DIR] INPUT

Exit status: 0 verified, 1 not verified (or offline data could not be saved), 2 usage or
input error.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from ._base import format_time, parse_time
from ._credential import VerificationResult, verify_credential
from ._errors import InputError, StatusUnavailable, VerifierError
from ._input import parse_verification_link
from ._jose import COMPACT
from ._resolvers import Fetch, HttpResolver, OfflineResolver, save_for_offline
from ._batch import run_batch
from . import _logcheck, _monitor

__all__ = ["main", "decode_image", "build_parser"]

EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_USAGE = 0, 1, 2
MAX_INPUT_BYTES = 32 << 20
# What the ``image`` extra installs, named directly: this works from a source checkout, a wheel or
# an unrelated environment alike (the project itself is not on a package index).
IMAGE_EXTRA_HINT = "pip install 'zxing-cpp>=2.2' 'pillow>=10' (or, in a checkout: pip install -e '.[image]')"
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class _Usage(Exception):
    """A usage or input problem: message on stderr, exit 2."""


def default_data_dir() -> Path:
    """``$XDG_CACHE_HOME/carbon-verify`` or ``~/.cache/carbon-verify``. Raises nothing."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "carbon-verify"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``carbon-verify``. Raises nothing."""
    p = argparse.ArgumentParser(
        prog="carbon-verify",
        description="Verify a carbon label certificate (a signed W3C Verifiable Credential): "
                    "signature, issuer accreditation, validity, revocation/suspension and grade.",
        epilog="Exit status: 0 verified, 1 not verified, 2 usage or input error.",
    )
    p.add_argument("input", nargs="*", metavar="INPUT",
                   help="a file holding a compact JWS or scanned QR text, '-' for stdin, or a "
                        "PNG/JPEG image of a label (needs the 'image' extra); a JWS or label URL "
                        "may also be given literally")
    p.add_argument("--json", action="store_true", help="print the verification result as JSON")
    p.add_argument("--registry", metavar="URL",
                   help="the registry's public base URL, e.g. https://labels.example.org")
    p.add_argument("--trust-list", metavar="FILE_OR_URL",
                   help="the signed trust list to use, from a file or a URL "
                        "(default: <registry>/trust-list)")
    p.add_argument("--registry-jwks", metavar="FILE",
                   help="pin the registry's keys (a JWKS file) instead of fetching "
                        "<registry>/.well-known/jwks.json")
    p.add_argument("--offline", action="store_true",
                   help="use only data saved with --save-offline (in --data-dir); no network")
    p.add_argument("--data-dir", metavar="DIR", type=Path, default=None,
                   help=f"offline data and HTTP cache directory (default: {default_data_dir()})")
    p.add_argument("--save-offline", metavar="DIR", type=Path, default=None,
                   help="save the registry keys, trust list and status lists for offline use into "
                        "DIR (use the --data-dir directory for later --offline runs), including "
                        "the status lists of the INPUT credentials, then exit")
    p.add_argument("--at", metavar="TIME",
                   help="judge validity at this RFC 3339 time instead of now")
    p.add_argument("--batch", metavar="FILE", help="verify every row of a .csv or .xlsx file through "
                   "--registry (columns named for a certificate number, GTIN, id, credential or QR text)")
    p.add_argument("--output", metavar="REPORT", help="with --batch: the report, .csv or .xlsx")
    return p


# --------------------------------------------------------------------------------------------
# Input


def decode_image(data: bytes) -> str:
    """The text of the QR code in a PNG/JPEG image (zxing-cpp through Pillow, imported lazily).

    When several codes are found, one that holds a credential or a verification link wins.

    Raises:
        InputError: the ``image`` extra is not installed, the image cannot be read, or it
            holds no QR code.
    """
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as err:
        raise InputError(
            f"reading a QR code from an image needs the image extra: {IMAGE_EXTRA_HINT}") from err
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            gray = img.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"cannot read the image: {err}") from err
    qr = getattr(zxingcpp.BarcodeFormat, "QRCode")
    try:
        found = zxingcpp.read_barcodes(gray, formats=qr)
    except (RuntimeError, ValueError, TypeError) as err:
        raise InputError(f"cannot decode the image: {err}") from err
    texts = [r.text for r in found if getattr(r, "text", "")]
    if not texts:
        raise InputError("no QR code found in the image")
    for text in texts:
        if COMPACT.fullmatch(text.strip()) or "/v/" in text:
            return text
    return texts[0]


def _looks_literal(arg: str) -> bool:
    arg = arg.strip()
    return bool(COMPACT.fullmatch(arg) or re.match(r"https?://", arg) or (arg.isdigit() and len(arg) > 40))


def _read_input(arg: str) -> str:
    """The text of INPUT (file, '-', image, or a literal JWS/URL). Raises InputError."""
    if arg == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(MAX_INPUT_BYTES + 1) if stream is not None else sys.stdin.read(
            MAX_INPUT_BYTES + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        source = "stdin"
    else:
        if _looks_literal(arg):
            return arg.strip()
        path = Path(arg)
        try:
            exists = path.is_file()
        except OSError:
            exists = False
        if not exists:
            raise InputError(f"no such file: {arg}")
        try:
            with path.open("rb") as f:
                data = f.read(MAX_INPUT_BYTES + 1)
        except OSError as err:
            raise InputError(f"cannot read {arg}: {err.strerror or err}") from err
        source = arg
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{source} is larger than {MAX_INPUT_BYTES} bytes")
    if data.startswith(_IMAGE_MAGIC):
        return decode_image(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{source} is neither text nor a PNG/JPEG image") from err
    if not text.strip():
        raise InputError(f"{source} is empty")
    return text.strip()


def _plain_link(text: str) -> tuple[str, str] | None:
    """(base, id) when *text* is a verification link without a credential in its fragment."""
    link = parse_verification_link(text)
    if link is None:
        return None
    _, _, fragment = text.strip().partition("#")
    return None if fragment else link


# --------------------------------------------------------------------------------------------
# Output


def _marks(stream: Any) -> tuple[str, str, str]:
    enc = getattr(stream, "encoding", None) or "ascii"
    try:
        "✓✗–".encode(enc)
        return "✓", "✗", "–"
    except (UnicodeEncodeError, LookupError):
        return "OK", "XX", "--"


def _age(delta: _dt.timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    if m:
        return f"{m} min"
    return f"{s} s"


def format_result(result: VerificationResult, *, offline: bool, stream: Any = None) -> str:
    """The human-readable report of *result*. Raises nothing."""
    ok_mark, bad_mark, skip_mark = _marks(stream or sys.stdout)
    lines = []
    if result.verified:
        lines.append(f"{ok_mark} VERIFIED: genuine and valid")
    else:
        lines.append(f"{bad_mark} NOT VERIFIED: {', '.join(dict.fromkeys(result.codes)) or 'unknown'}")
    cred = result.credential if isinstance(result.credential, dict) else None
    subject = cred.get("credentialSubject") if cred else None
    if isinstance(subject, dict):
        if not result.verified:
            lines.append("  What the credential claims (not verified):")
        product = subject.get("product") if isinstance(subject.get("product"), dict) else {}
        rows = []
        number = subject.get("certificateNumber")
        rows.append(("Certificate", f"{number or '?'} ({subject.get('certificateType', '?')})"))
        name = " · ".join(str(n) for n in (product.get("name"), product.get("nameZh")) if n)
        extra = ", ".join(x for x in (product.get("category"), product.get("gtin") and
                                      f"GTIN {product.get('gtin')}") if x)
        rows.append(("Product", f"{name or '?'}" + (f" ({extra})" if extra else "")))
        maker = product.get("manufacturer")
        if isinstance(maker, dict) and maker.get("name"):
            rows.append(("Manufacturer", str(maker["name"])))
        fp = subject.get("footprint")
        if isinstance(fp, dict) and fp.get("pcfExcludingBiogenicUptake"):
            rows.append(("Footprint", f"{fp['pcfExcludingBiogenicUptake']} kg CO2e per "
                                      f"{fp.get('declaredUnitAmount', '?')} {fp.get('declaredUnitOfMeasurement', '?')}"))
        grade = subject.get("grade")
        if isinstance(grade, dict):
            value = grade.get("value")
            rows.append(("Grade", f"{value if value is not None else 'none'} "
                                  f"({grade.get('scheme')} version {grade.get('schemeVersion')})"))
        issuer = cred.get("issuer")
        rows.append(("Issuer", f"{result.issuer_name} ({issuer})" if result.issuer_name else str(issuer)))
        rows.append(("Valid", f"{cred.get('validFrom')} to {cred.get('validUntil')}"))
        lines.extend(f"  {k:<13}{v}" for k, v in rows)
    lines.append("Checks:")
    for c in result.checks:
        mark = skip_mark if c.skipped else ok_mark if c.ok else bad_mark
        lines.append(f"  {mark} {c.name:<14}{c.detail}")
    if result.errors:
        lines.append("Errors:")
        lines.extend(f"  {e.code}: {e.message}" for e in result.errors)
    if result.status_checked_at is not None:
        where = "saved offline data" if offline else "fetched from the registry"
        lines.append(f"Status information as of {format_time(result.status_checked_at)} "
                     f"({_age(result.status_age or _dt.timedelta(0))} old, {where})")
    return "\n".join(lines)


def _emit(text: str, stream: Any) -> None:
    enc = getattr(stream, "encoding", None)
    if enc:
        try:
            text.encode(enc)
        except (UnicodeEncodeError, LookupError):
            text = text.encode(enc, "replace").decode(enc, "replace")
    print(text, file=stream)


# --------------------------------------------------------------------------------------------
# Main


def _read_text_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the {what} {path}: {err}") from err


def _load_jwks(path: str) -> dict:
    try:
        jwks = json.loads(_read_text_file(path, "registry JWKS"))
    except ValueError as err:
        raise InputError(f"{path} is not JSON: {err}") from err
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise InputError(f"{path} is not a JWKS ({{\"keys\": [...]}})")
    return jwks


def _make_resolver(args: argparse.Namespace, data_dir: Path, fetch: Fetch | None):
    jwks = _load_jwks(args.registry_jwks) if args.registry_jwks else None
    tl = args.trust_list
    tl_is_url = bool(tl and re.match(r"https?://", tl))
    trust_jws = _read_text_file(tl, "trust list") if tl and not tl_is_url else None
    if args.offline:
        if tl_is_url:
            raise _Usage("--offline cannot fetch --trust-list from a URL; give a file")
        return OfflineResolver(data_dir, registry_jwks=jwks, trust_list_jws=trust_jws)
    registry = args.registry
    if not registry and tl_is_url:
        registry = re.sub(r"/trust-list/?$", "", tl)
    if not registry:
        registry = OfflineResolver(data_dir).registry_url
    if not registry:
        raise _Usage("no registry: give --registry URL (e.g. https://labels.example.org), "
                     "or --offline with data saved by --save-offline")
    if not re.match(r"https?://", registry):
        raise _Usage(f"--registry must be an http(s) URL, not {registry!r}")
    if trust_jws is not None and jwks is None and args.registry is None:
        raise _Usage("--trust-list FILE needs --registry-jwks FILE or --registry URL")
    return HttpResolver(registry, registry_jwks=jwks, trust_list_url=tl if tl_is_url else None,
                        trust_list_jws=trust_jws, cache_dir=data_dir / "http-cache", fetch=fetch)


def _save(args: argparse.Namespace, data_dir: Path, fetch: Fetch | None) -> int:
    target = args.save_offline
    if args.offline:
        raise _Usage("--save-offline fetches from the registry; it cannot be combined with --offline")
    texts = [_read_input(a) for a in args.input]
    resolver = _make_resolver(args, data_dir, fetch)
    try:
        manifest = save_for_offline(resolver, target, credentials=texts)
        manifest["logProofs"] = _logcheck.save_claims(resolver, target, texts, fetch=fetch)
    except VerifierError as err:
        print(f"carbon-verify: could not save offline data: {err}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    except OSError as err:
        raise _Usage(f"cannot write {target}: {err}") from err
    if args.json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
    else:
        tl = manifest["trustList"]
        print(f"Saved offline data for {manifest['registry']} in {target}:")
        print(f"  registry keys      {manifest['jwks']['file']}"
              + ("" if manifest["jwks"]["pinned"] else " (fetched, not pinned)"))
        print(f"  trust list         {tl['file']} (expires {tl['expiresAt']})")
        for url, info in manifest["statusLists"].items():
            print(f"  {info['purpose']:<18} {info['file']} ({url}, valid until {info['validUntil']})")
        if not manifest["statusLists"]:
            print("  no status lists (give credentials as INPUT, or let the registry publish /status)")
    return EXIT_VERIFIED


def _verify(args: argparse.Namespace, data_dir: Path, fetch: Fetch | None, now: _dt.datetime | None) -> int:
    if len(args.input) != 1:
        raise _Usage("give exactly one INPUT to verify (or '-' for stdin)")
    text = _read_input(args.input[0])
    resolver = _make_resolver(args, data_dir, fetch)
    link = _plain_link(text)
    if link is not None and isinstance(resolver, HttpResolver):
        base, cert_id = link
        if base.rstrip("/") != resolver.registry_url and not args.json:
            print(f"note: the code links to {base}; verifying against {resolver.registry_url}",
                  file=sys.stderr)
        try:
            text = resolver.fetch_credential(cert_id)
        except InputError as err:
            result = VerificationResult.failure("MALFORMED", str(err), now=now)
            return _report(result, args)
        except StatusUnavailable as err:
            result = VerificationResult.failure(
                "STATUS_UNAVAILABLE", f"the credential could not be fetched: {err}", now=now)
            return _report(result, args)
    result = verify_credential(text, resolver, now=now)
    result.checks.append(_logcheck.log_check(result, text, resolver, fetch=fetch, offline=args.offline))
    return _report(result, args)


def _report(result: VerificationResult, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _emit(format_result(result, offline=args.offline), sys.stdout)
    return EXIT_VERIFIED if result.verified else EXIT_NOT_VERIFIED


def main(argv: Sequence[str] | None = None, *, fetch: Fetch | None = None) -> int:
    """Run ``carbon-verify`` with *argv* (default ``sys.argv[1:]``); return the exit status.

    *fetch* replaces the network for the HTTP resolver (tests).

    Raises:
        Nothing for usage, input or verification problems (they become exit statuses 2 and 1).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["monitor"]:
        return _monitor.main(argv[1:], fetch=fetch)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    data_dir = args.data_dir or default_data_dir()
    try:
        now = parse_time(args.at) if args.at else None
    except ValueError as err:
        parser.print_usage(sys.stderr)
        print(f"carbon-verify: error: --at: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.batch:
            return run_batch(args.batch, args.registry, args.output)
        if args.save_offline is not None:
            return _save(args, data_dir, fetch)
        return _verify(args, data_dir, fetch, now)
    except _Usage as err:
        parser.print_usage(sys.stderr)
        print(f"carbon-verify: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as err:
        print(f"carbon-verify: error: {err}", file=sys.stderr)
        return EXIT_USAGE
