"""The dependency rules: tenants/ is the core and imports neither api/ nor jobs/; a test module imports shared
builders from tests/fixtures/, never from another test module."""

from __future__ import annotations

import ast
import tomllib

from tests.conftest import ROOT


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            if node.module in {"tests", "tests.faults"}:  # `from tests import test_x` names a module too
                yield from (f"{node.module}.{a.name}" for a in node.names)


def _imports_a_test_module(name: str) -> bool:
    """A test module: under tests/, named ``test_*``."""
    parts = name.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") for p in parts[1:])


def test_tenants_imports_neither_api_nor_jobs():
    offenders = [
        (str(p.relative_to(ROOT)), name)
        for p in (ROOT / "tenants").rglob("*.py")
        for name in _imports(p)
        if name.split(".")[0] in {"api", "jobs"}
    ]
    assert offenders == []


def test_the_rule_check_would_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from api.app import create_app\nimport jobs.worker\n")
    assert list(_imports(bad)) == ["api.app", "jobs.worker"]


def test_test_modules_import_builders_from_fixtures_never_from_each_other():
    offenders = [
        (str(p.relative_to(ROOT)), name)
        for p in (ROOT / "tests").rglob("*.py")
        if "shipped_before" not in p.parts
        for name in _imports(p)
        if _imports_a_test_module(name)
    ]
    assert offenders == [], "move the shared builder to tests/fixtures/"


def test_the_test_module_rule_would_catch_a_violation(tmp_path):
    bad = tmp_path / "test_bad.py"
    bad.write_text(
        "from tests.test_territory import build\nimport tests.faults.test_commit_outage\n"
        "from tests import test_tickets\nfrom tests.fixtures.territory import build\nfrom tests.conftest import ROOT\n"
    )
    caught = [name for name in _imports(bad) if _imports_a_test_module(name)]
    assert caught == ["tests.test_territory", "tests.faults.test_commit_outage", "tests.test_tickets"]


def test_packaging_declares_the_packages_and_the_console_script():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "civicgrid"
    assert meta["project"]["requires-python"] == ">=3.11"
    assert meta["project"]["scripts"]["civicgrid"] == "api.cli:main"
    assert {"test", "dev"} <= set(meta["project"]["optional-dependencies"])
    for top in ("api", "tenants", "jobs", "tests", "deploy", "schema.graphql", "README.md", "Makefile", ".ci/run"):
        assert (ROOT / top).exists(), top


async def test_committed_migrations_match_the_models(services):
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector

    from tenants.db import tortoise_config

    config = tortoise_config(services.owner_url, pool_size=1)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert [w.name for w in writers] == [], "models changed without a migration: run `make migrations`"
