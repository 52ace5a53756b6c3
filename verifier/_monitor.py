"""``carbon-verify monitor``: watch the registry's transparency log for events that concern you.

Each run fetches the latest checkpoint, checks its signature with the log key pinned on first
use, reads the new entries from the C2SP entry bundles, extends the tree it saw last time with
them and requires the checkpoint's root: so the new tree provably extends the old one. A smaller
tree (a rollback), another root (a fork, or rewritten entries) or a hash tile that disagrees with
the entries is an alarm: exit status 3, and the saved state is left as it was.

Exit status: 0 consistent, 2 usage or network error, 3 alarm.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _tlog as t
from ._resolvers import Fetch, urllib_fetch

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ALARM = 3
STATE_FILE = "tlog-monitor.json"


class _Alarm(Exception):
    pass


class _Unavailable(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carbon-verify monitor",
                                description="Check that the registry's transparency log only grows, "
                                            "and print the new events that match.")
    p.add_argument("--registry", required=True, metavar="URL", help="the registry's base URL")
    p.add_argument("--state", required=True, metavar="DIR", type=Path,
                   help="where the pinned log key and the last checkpoint seen are kept")
    p.add_argument("--gtin", action="append", default=[], help="print events of this GTIN (repeatable)")
    p.add_argument("--manufacturer", action="append", default=[],
                   help="print events of this manufacturer id (repeatable)")
    p.add_argument("--body", action="append", default=[], help="print events of this body id (repeatable)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON too")
    return p


def _get(fetch: Fetch, url: str) -> bytes:
    try:
        status, _headers, body = fetch(url, {})
    except OSError as err:
        raise _Unavailable(str(err)) from err
    if status != 200:
        raise _Unavailable(f"GET {url}: HTTP {status}")
    return body


def _pinned_key(base: str, fetch: Fetch, state: dict) -> t.NoteVerifier:
    if state.get("key"):
        return t.NoteVerifier.parse(state["key"])
    published = _get(fetch, f"{base}/log/key").decode().strip()
    listed = _trust_list_key(_get(fetch, f"{base}/trust-list"))
    if listed is not None and listed != published:
        raise _Alarm("the trust list and /log/key name different log keys")
    key = t.NoteVerifier.parse(published)
    state["key"] = str(key)
    return key


def _trust_list_key(token: bytes) -> str | None:
    try:
        payload = token.decode().split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return data["transparencyLog"]["key"]
    except (ValueError, IndexError, KeyError, TypeError):
        return None


def _matches(event: dict, args: argparse.Namespace) -> bool:
    wanted = [(args.gtin, "gtin"), (args.manufacturer, "manufacturer"), (args.body, "body")]
    return all(event.get(field) in values for values, field in wanted if values)


def check(base: str, state: dict, args: argparse.Namespace, fetch: Fetch, out) -> dict:
    """One monitoring round from ``state``; returns the new state. Raises _Alarm or _Unavailable."""
    key = _pinned_key(base, fetch, state)
    try:
        cp = t.verify_checkpoint(_get(fetch, f"{base}/log/checkpoint").decode(), key)
    except t.LogProofInvalid as err:
        raise _Alarm(f"the checkpoint does not verify: {err}") from err
    old_size = int(state.get("size", 0))
    old_root = base64.b64decode(state["root"]) if state.get("root") else t.EMPTY_ROOT
    frontier = t.Frontier(old_size, t.unb64_hashes(state.get("frontier", [])))
    if cp.size < old_size:
        raise _Alarm(f"the log shrank from {old_size} to {cp.size} entries (a rollback)")
    if cp.size == old_size and cp.root != old_root:
        raise _Alarm(f"two different trees of {cp.size} entries (a fork)")
    if old_size and cp.size > old_size:
        proof = json.loads(_get(fetch, f"{base}/log/proof/consistency?first={old_size}&second={cp.size}"))
        try:
            t.verify_consistency(old_size, cp.size, t.unb64_hashes(proof["consistencyProof"]), old_root, cp.root)
        except (t.LogProofInvalid, KeyError, TypeError) as err:
            raise _Alarm(f"the new checkpoint is not consistent with the last one seen: {err}") from err
    printed = 0
    tile = old_size // t.TILE_WIDTH
    while tile * t.TILE_WIDTH < cp.size:
        width = min(t.TILE_WIDTH, cp.size - tile * t.TILE_WIDTH)
        try:
            entries = t.bundle_entries(_get(fetch, f"{base}/log/{t.tile_path('entries', tile, width)}"))
            hashes = t.tile_hashes(_get(fetch, f"{base}/log/{t.tile_path(0, tile, width)}"), width)
        except t.LogProofInvalid as err:
            raise _Alarm(f"tile {tile}: {err}") from err
        if len(entries) != width:
            raise _Alarm(f"entry bundle {tile} has {len(entries)} entries, not {width}")
        for i, entry in enumerate(entries):
            index = tile * t.TILE_WIDTH + i
            leaf = t.leaf_hash(entry)
            if leaf != hashes[i]:
                raise _Alarm(f"entry {index} does not match the log's hash tile")
            if index < old_size:
                continue
            frontier.append(leaf)
            try:
                event = json.loads(entry)
            except ValueError as err:
                raise _Alarm(f"entry {index} is not JSON") from err
            if _matches(event, args):
                print(json.dumps({"index": index, **event}, ensure_ascii=False), file=out)
                printed += 1
        tile += 1
    if frontier.root() != cp.root:
        raise _Alarm("the entries do not hash to the checkpoint's root (a fork or rewritten entries)")
    return {"registry": base, "key": str(key), "size": cp.size, "root": base64.b64encode(cp.root).decode(),
            "frontier": t.b64_hashes(frontier.hashes), "checkpoint": cp.text, "printed": printed}


def main(argv: Sequence[str] | None = None, *, fetch: Fetch | None = None, out: Any = None) -> int:
    """Run ``carbon-verify monitor``; returns the exit status (0 consistent, 2 usage/network, 3 alarm).

    Raises nothing: problems become exit statuses.
    """
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    base = args.registry.rstrip("/")
    fetch = fetch or (lambda url, headers: urllib_fetch(url, headers, timeout=20))
    path = args.state / STATE_FILE
    try:
        state = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as err:
        print(f"carbon-verify monitor: error: cannot read {path}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if state.get("registry") not in (None, base):
        print(f"carbon-verify monitor: error: {args.state} watches {state['registry']}", file=sys.stderr)
        return EXIT_USAGE
    try:
        new = check(base, state, args, fetch, out)
    except _Alarm as err:
        print(f"carbon-verify monitor: ALARM: {err}", file=sys.stderr)
        return EXIT_ALARM
    except (_Unavailable, t.LogProofInvalid, ValueError, KeyError) as err:
        print(f"carbon-verify monitor: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    printed = new.pop("printed")
    args.state.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(new, indent=1))
    os.replace(tmp, path)
    summary = {"size": new["size"], "root": new["root"], "matched": printed}
    print(json.dumps(summary) if args.json else
          f"log consistent: {new['size']} entries, {printed} matching new event(s)", file=sys.stderr)
    return EXIT_OK
