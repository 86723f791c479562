"""deploy/ stays consistent with the CLI and the settings (no Docker engine here to build it)."""

from __future__ import annotations

import re

from typer.main import get_command

from api.cli import app
from tenants.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _subcommands() -> set[str]:
    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_every_deployed_process_is_a_civicgrid_command():
    used = set()
    for path in [DEPLOY / "compose.yaml", *(DEPLOY / "k8s").glob("*.yaml")]:
        for match in re.finditer(r'(?:command|args): \["(?:civicgrid", ")?([a-z-]+)"', path.read_text()):
            if match.group(1) != "redis-server":
                used.add(match.group(1))
    assert used == {"migrate", "api", "worker"}
    assert used <= _subcommands()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["civicgrid"]' in dockerfile and "\nUSER civicgrid" in dockerfile


def test_every_documented_variable_is_a_setting():
    fields = {f"CIVICGRID_{name.upper()}" for name in Settings.model_fields}
    fields |= {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    example = set(re.findall(r"^#? ?([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    readme = set(re.findall(r"`((?:CIVICGRID|DATABASE|REDIS)_[A-Z_]+)`", (ROOT / "README.md").read_text()))
    compose_only = {"OWNER_DB_PASSWORD", "APP_DB_PASSWORD"}
    assert example - compose_only <= fields, example - compose_only - fields
    assert readme <= fields, readme - fields
    assert {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_JWT_SECRET"} <= readme
