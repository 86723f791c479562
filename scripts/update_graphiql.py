"""Vendor GraphiQL's assets into api/static/graphiql/ from the npm registry, checked against pinned sha256 values.

    .venv/bin/python scripts/update_graphiql.py          # download the pinned versions, check, write (make graphiql)
    .venv/bin/python scripts/update_graphiql.py --check  # offline: the vendored files match their pins
    .venv/bin/python scripts/update_graphiql.py --pin    # after editing a version in pins.json: trust the
                                                         # registry's sha512, record new sha256 pins, write

The pins (api/static/graphiql/pins.json) name each package's version, its tarball's sha256, and for each file
taken from it the name it is served under and its sha256. A download whose tarball or file differs is refused.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "api" / "static" / "graphiql"
PINS = ASSETS / "pins.json"
REGISTRY = "https://registry.npmjs.org"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def tarball(name: str, version: str) -> tuple[bytes, str]:
    """The package's tarball and the registry's sha512 integrity for it (checked here)."""
    meta = json.loads(fetch(f"{REGISTRY}/{name.replace('/', '%2f')}/{version}"))
    data = fetch(meta["dist"]["tarball"])
    integrity = meta["dist"]["integrity"]
    algo, _, digest = integrity.partition("-")
    if algo != "sha512" or base64.b64encode(hashlib.sha512(data).digest()).decode() != digest:
        raise SystemExit(f"{name}@{version}: the tarball does not match the registry's integrity {integrity}")
    return data, integrity


def members(data: bytes, wanted: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name in wanted and member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                found[member.name] = extracted.read()
    missing = set(wanted) - set(found)
    if missing:
        raise SystemExit(f"not in the tarball: {sorted(missing)}")
    return found


def check() -> list[str]:
    """Vendored files that are missing or differ from their pins."""
    pins = json.loads(PINS.read_text())
    wrong = []
    for pkg in pins["packages"]:
        for served, expected in pkg["files"].values():
            path = ASSETS / served
            if not path.is_file() or sha256(path.read_bytes()) != expected:
                wrong.append(served)
    return wrong


def update(*, repin: bool) -> None:
    pins = json.loads(PINS.read_text())
    for pkg in pins["packages"]:
        name, version = pkg["name"], pkg["version"]
        data, integrity = tarball(name, version)
        if repin:
            pkg["tarball_sha256"] = sha256(data)
        elif sha256(data) != pkg["tarball_sha256"]:
            raise SystemExit(f"{name}@{version}: tarball sha256 {sha256(data)} is not the pinned one")
        files = members(data, list(pkg["files"]))
        for member, (served, expected) in pkg["files"].items():
            digest = sha256(files[member])
            if repin:
                pkg["files"][member] = [served, digest]
            elif digest != expected:
                raise SystemExit(f"{name}@{version}: {member} sha256 {digest} is not the pinned one")
            (ASSETS / served).write_bytes(files[member])
        print(f"{name}@{version}: {len(files)} files ({integrity[:20]}…)")
    if repin:
        PINS.write_text(json.dumps(pins, indent=2) + "\n")
        print(f"pins written to {PINS.relative_to(ROOT)}: review the diff")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="check the vendored files against the pins, offline")
    group.add_argument("--pin", action="store_true", help="record new pins from the registry for edited versions")
    args = parser.parse_args()
    if args.check:
        wrong = check()
        print("GraphiQL assets match their pins" if not wrong else f"differ from their pins: {wrong}")
        sys.exit(1 if wrong else 0)
    update(repin=args.pin)
    if wrong := check():
        raise SystemExit(f"differ from their pins after the update: {wrong}")


if __name__ == "__main__":
    main()
