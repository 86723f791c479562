"""The GraphQL edge stays thin: no model query in ``api/`` and a GraphQL context that knows no domain.

Reads and writes of tenant rows live in ``tenants/<domain>/`` (services, reads, access); ``api/`` calls them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tortoise.models import Model

from tests.conftest import ROOT

# Every query entry point of a tortoise model class (the manager's and the class's own).
QUERY_METHODS = frozenset(
    {
        "all",
        "annotate",
        "bulk_create",
        "bulk_update",
        "count",
        "create",
        "delete",
        "distinct",
        "exclude",
        "exists",
        "filter",
        "first",
        "get",
        "get_or_create",
        "get_or_none",
        "in_bulk",
        "last",
        "raw",
        "select_for_update",
        "update",
        "update_or_create",
        "values",
        "values_list",
    }
)
# Where a model query in api/ is allowed, with the reason. Empty: there is none.
ALLOWED: dict[str, str] = {}


def _imported(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> dotted path of what it names, for every import in the module."""
    names: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            for a in node.names:
                names[a.asname or a.name] = f"{base}.{a.name}"
    return names


def _resolve(dotted: str) -> object | None:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else [*head, node.attr]
    return None


def _is_model(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, Model)


def model_queries(path: Path, module: str) -> list[str]:
    """``file:line Model.method`` for every call of a query method on a model class in ``path``."""
    tree = ast.parse(path.read_text())
    imported = _imported(tree, module)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in QUERY_METHODS:
            continue
        target = _dotted(node.func.value)
        if target is None or target[0] not in imported:
            continue
        if _is_model(_resolve(".".join([imported[target[0]], *target[1:]]))):
            found.append((node.lineno, f"{path.relative_to(ROOT)}:{node.lineno} {'.'.join(target)}.{node.func.attr}"))
    return [hit for _, hit in sorted(found)]


def _api_modules() -> list[tuple[Path, str]]:
    return [
        (p, ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        for p in sorted((ROOT / "api").rglob("*.py"))
    ]


def test_api_makes_no_model_query():
    offenders = [
        hit
        for path, module in _api_modules()
        for hit in model_queries(path, module)
        if hit.split(":")[0] not in ALLOWED
    ]
    assert offenders == [], "move these reads into tenants/<domain>/ (reads, access, service)"


def test_the_model_query_check_would_catch_one():
    bad = ROOT / "api" / "_probe_model_query.py"
    bad.write_text(
        "from tenants.tickets.models import Ticket\n"
        "import tenants.territory.models as territory\n"
        "async def f():\n"
        "    await Ticket.filter(id=1).first()\n"
        "    await territory.Compound.get_or_none(id=1)\n"
        "    await Ticket.create(title='x')\n"
        "    {}.get('not a model')\n"
    )
    try:
        hits = model_queries(bad, "api._probe_model_query")
    finally:
        bad.unlink()
    assert [h.split(" ")[1] for h in hits] == ["Ticket.filter", "territory.Compound.get_or_none", "Ticket.create"]


def test_graphql_context_imports_no_domain():
    tree = ast.parse((ROOT / "api" / "context.py").read_text())
    # tenancy is the platform every request runs in (roles, tenants), not a domain
    domains = {p.name for p in (ROOT / "tenants").iterdir() if (p / "__init__.py").exists()} - {"tenancy"}
    offenders = sorted(
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("tenants.")
        and node.module.split(".")[1] in domains
    )
    assert offenders == []


async def test_interview_periods_in_sql_match_the_python_bounds(services):
    """``readable_interviews`` computes an interview's period in SQL: the same first and last day as
    ``tenants.periods.bounds`` for months and quarters, year ends and leap years included."""
    from asyncpg import connect

    from tenants.assessment.access import _END, _START
    from tenants.periods import bounds

    keys = ["2026-01", "2026-02", "2024-02", "2026-12", "2026Q1", "2026Q4", "2025Q2"]
    conn = await connect(services.owner_url)
    try:
        sql = f"SELECT {_START} AS start, {_END} AS end FROM (SELECT unnest($1::text[]) AS period_key) interview"
        rows = await conn.fetch(sql, keys)
    finally:
        await conn.close()
    assert [(r["start"], r["end"]) for r in rows] == [bounds(k) for k in keys]
