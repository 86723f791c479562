"""Fail, naming `make lock`, when what was installed from the lock file does not satisfy pyproject.toml.

    python deploy/lockcheck.py [EXTRA ...]

Run after ``pip install --require-hashes --no-deps -r <lock>`` and ``pip install --no-deps .``: every dependency
civicgrid declares (with the given extras) must be installed at a version its specifier allows. ``pip check``
alone reads no extras, so a test or dev dependency missing from the lock would pass it.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:  # the runtime image need not carry packaging; pip always does
    from pip._vendor.packaging.requirements import Requirement


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def problems(extras: list[str]) -> list[str]:
    found = []
    for line in metadata.requires("civicgrid") or []:
        req = Requirement(line)
        if _canonical(req.name) == "civicgrid":  # an extra naming another extra of ours
            continue
        wanted = ["", *extras]
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            found.append(f"{req} is not in the lock file")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            found.append(f"{req} is locked at {version}")
    return found


def main() -> int:
    found = problems(sys.argv[1:])
    for p in found:
        print(f"lock: {p}", file=sys.stderr)
    if found:
        print("pyproject.toml and the lock files disagree: run `make lock` and commit requirements*.lock",
              file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
