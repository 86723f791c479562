"""The dependency rule: tenants/ is the core and imports neither api/ nor jobs/."""

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
