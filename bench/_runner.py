"""Run a benchmark's coroutine against DATABASE_URL, or against an embedded PostgreSQL made for it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(work: Coroutine[Any, Any, Any], *, home_name: str, server: dict[str, str] | None = None) -> None:
    """With DATABASE_URL unset: start an embedded PostgreSQL under .civicgrid/<home_name> (or
    $CIVICGRID_BENCH_HOME), migrate it, run ``work``, stop the server. ``server``: settings the embedded server
    runs with (``shared_buffers``: a server sized like a production one for the data), set once and restarted."""
    if "DATABASE_URL" in os.environ:
        asyncio.run(work)
        return
    from api.embedded import EmbeddedServices

    home = Path(os.environ.get("CIVICGRID_BENCH_HOME", ROOT / ".civicgrid" / home_name))
    svc = EmbeddedServices(home.resolve(), database="civicgrid_bench")
    svc.home.mkdir(parents=True, exist_ok=True)
    svc.start_postgres()
    changed = [
        name for name, value in (server or {}).items()
        if svc.psql(f"SELECT current_setting('{name}') = '{value}' AS same;").split("\n")[2].strip() != "t"
    ]
    if changed:
        for name in changed:
            svc.psql(f"ALTER SYSTEM SET {name} = '{(server or {})[name]}';")
        svc.stop()
        svc.start_postgres()
        print("server settings:", ", ".join(f"{n} = {(server or {})[n]}" for n in server or {}), flush=True)
    os.environ.update(DATABASE_URL=svc.app_url, DATABASE_OWNER_URL=svc.owner_url)
    try:
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, cwd=ROOT, env=os.environ)
        asyncio.run(work)
    finally:
        svc.stop()
