"""What the README says to run, runs; what it lists is complete; its Markdown renders."""

from __future__ import annotations

import os
import re
import subprocess

from tenants.tenancy.roles import Role
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_code_fence_is_closed_on_its_own_line():
    fences = [line for line in README.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    openers, closers = fences[0::2], fences[1::2]
    assert all(re.fullmatch(r"```\w*", line) for line in openers), openers
    assert all(line == "```" for line in closers), closers  # "``` Ctrl-C stops" hid the text after the query


def test_the_roles_paragraph_names_every_role():
    roles = README[README.index("Roles: ") : README.index("A missing, malformed")]
    assert [r.value for r in Role if f"`{r.value}`" not in roles] == []


def test_make_run_passes_the_port():
    env = {k: v for k, v in os.environ.items() if k != "PORT"}

    def planned(*args: str) -> list[str]:
        out = subprocess.run(["make", "-n", "run", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        return next(line.split() for line in out.stdout.splitlines() if "civicgrid serve" in line)[1:]

    assert planned("PORT=8001") == ["serve", "--port", "8001"]
    assert planned() == ["serve"]
