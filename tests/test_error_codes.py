"""Every error code the code can send is listed in the README's Errors section (as the schema test keeps
schema.graphql true)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}")
# The base class's default: every DomainError a service raises names its own code.
NEVER_SENT = {"DOMAIN_ERROR"}


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in(source: str) -> set[str]:
    """Codes written in ``source``: ``code = "X"`` in a class body, ``code="X"`` keywords, ``{"code": "X"}``
    entries and ``x.setdefault("code", "X")`` / ``x["code"] = "X"``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "code" for t in stmt.targets):
                    found.add(_str(stmt.value) or "")
                elif isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", None) == "code":
                    found.add(_str(stmt.value) or "")
        elif isinstance(node, ast.keyword) and node.arg == "code":
            found.add(_str(node.value) or "")
        elif isinstance(node, ast.Dict):
            found |= {_str(v) or "" for k, v in zip(node.keys, node.values, strict=True) if _str(k) == "code"}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault":
            if len(node.args) == 2 and _str(node.args[0]) == "code":
                found.add(_str(node.args[1]) or "")
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            if _str(node.targets[0].slice) == "code":
                found.add(_str(node.value) or "")
    return {c for c in found if CODE.fullmatch(c)}


def _sent_codes() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for top in ("tenants", "api"):
        for path in sorted(Path(ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for code in codes_in(path.read_text(encoding="utf-8")):
                where.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return where


def _errors_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Errors")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_lists_every_error_code():
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", _errors_section()))
    missing = {code: files for code, files in _sent_codes().items() if code not in listed | NEVER_SENT}
    assert missing == {}


def test_the_collector_finds_each_way_of_writing_a_code():
    source = '''
class Gone(DomainError):
    code = "ALPHA_GONE"
class Noun:
    code: str = "BETA_CODE"
Noun(code="GAMMA_CODE")
ext = {"code": "DELTA_CODE", "field": None}
ext.setdefault("code", "EPSILON_CODE")
ext["code"] = "ZETA_CODE"
row = {"code": "城管"}
'''
    assert codes_in(source) == {"ALPHA_GONE", "BETA_CODE", "GAMMA_CODE", "DELTA_CODE", "EPSILON_CODE", "ZETA_CODE"}
