"""Shipped migrations never change: each is pinned by its SHA-256 in tests/migrations.sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import ROOT

MIGRATIONS = ROOT / "tenants" / "migrations"
PINNED = ROOT / "tests" / "migrations.sha256"


def pinned() -> dict[str, str]:
    pairs = (line.split() for line in PINNED.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def edited_or_missing(directory: Path, pins: dict[str, str]) -> list[str]:
    """Pinned migrations whose file is gone or differs, and unpinned ones that sort before a pinned one."""
    files = {p.name: p for p in directory.glob("[0-9][0-9][0-9][0-9]*.py")}
    wrong = [
        name for name, digest in pins.items()
        if name not in files or hashlib.sha256(files[name].read_bytes()).hexdigest() != digest
    ]
    # A new migration (not yet shipped) is numbered after every shipped one; one slipped in between is an edit.
    last = max(pins)
    wrong += [name for name in files if name not in pins and name < last]
    return sorted(wrong)


def test_no_shipped_migration_was_edited():
    pins = pinned()
    assert {f"{n:04d}" for n in range(1, 19)} <= {name[:4] for name in pins}  # 0001..0018 shipped
    assert edited_or_missing(MIGRATIONS, pins) == []


def test_an_edit_a_removal_or_an_insertion_is_caught(tmp_path):
    for p in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]*.py"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    pins = pinned()
    assert edited_or_missing(tmp_path, pins) == []
    trigger = tmp_path / "0011_assessment_rls.py"
    trigger.write_text(trigger.read_text().replace("BEFORE INSERT OR UPDATE", "BEFORE UPDATE"))
    (tmp_path / "0004_territory_rls.py").unlink()
    (tmp_path / "0012a_sneaked_in.py").write_text("")
    (tmp_path / "0099_new.py").write_text("")  # numbered after the shipped ones: a new migration, allowed
    assert edited_or_missing(tmp_path, pins) == ["0004_territory_rls.py", "0011_assessment_rls.py",
                                                 "0012a_sneaked_in.py"]
