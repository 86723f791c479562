"""The ``civicgrid`` command: serve (embedded, all-in-one), api, worker, migrate, token, seed-demo."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from tenants.settings import Settings, get_settings, write_private
from tenants.tenancy.roles import Role

app = typer.Typer(help="civicgrid: multi-tenant GraphQL backend for urban grassroots governance.")
console = Console()


SERVE_ENV = "serve.env"


def _settings() -> Settings:
    """Settings from the environment; while ``serve`` runs, its service URLs fill in what is unset."""
    get_settings.cache_clear()
    s = get_settings()
    running = s.home / SERVE_ENV
    if running.exists() and not (s.database_url and s.redis_url):
        for line in running.read_text().splitlines():
            key, _, value = line.partition("=")
            os.environ.setdefault(key, value)
        get_settings.cache_clear()
        s = get_settings()
    return s


async def _migrate(owner_url: str, app_url: str) -> None:
    from tenants.db import ensure_app_role, run_migrations

    await run_migrations(owner_url)
    await ensure_app_role(owner_url, app_url)


async def _seed_demo(app_url: str) -> list:
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.tenancy.demo import seed_demo

    await Tortoise.init(config=tortoise_config(app_url, pool_size=2))
    try:
        return await seed_demo()
    finally:
        await Tortoise.close_connections()


@app.command()
def migrate() -> None:
    """Apply migrations as DATABASE_OWNER_URL and grant the DATABASE_URL role its rights."""
    s = _settings()
    app_url = s.require_database_url()
    asyncio.run(_migrate(s.database_owner_url or app_url, app_url))
    console.print("[green]migrations applied[/green]")


@app.command("seed-demo")
def seed_demo_cmd() -> None:
    """Create the demo tenants (张家口市, 宣化区, 下花园区, 临沭县) if they are missing."""
    asyncio.run(_seed_demo(_settings().require_database_url()))
    console.print("[green]demo tenants ready[/green]")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API (uvicorn) against DATABASE_URL and REDIS_URL."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(_settings()), host=host, port=port, log_level="info", proxy_headers=True)


@app.command()
def worker(check: bool = typer.Option(False, "--check", help="Report worker health and exit.")) -> None:
    """Run the arq worker against DATABASE_URL and REDIS_URL."""
    from arq.worker import check_health, run_worker

    from jobs.worker import worker_settings

    _settings()
    if check:
        raise typer.Exit(check_health(worker_settings()))
    run_worker(worker_settings())


@app.command()
def token(
    tenant: str = typer.Option(None, "--tenant", help="Tenant slug (omit only for platform_admin)."),
    role: list[Role] = typer.Option([], "--role", help="Repeat for several roles."),
    scope: list[str] = typer.Option([], "--scope", help="Territory scope KIND:ID, e.g. street:12."),
    user: str = typer.Option(None, "--user", help="User id (default: a random dev id)."),
    person: str = typer.Option(None, "--person", help="A registered person's user id: roles and scope from posts."),
    ttl: int = typer.Option(None, "--ttl", help="Lifetime in seconds."),
) -> None:
    """Mint a bearer token for development: from --role/--scope, or from a person's posts with --person."""
    from api.auth import mint_token, parse_scope

    s = _settings()
    if not s.jwt_secret:
        s = s.model_copy(update={"env": "development"})
    if person:
        if not tenant:
            raise typer.BadParameter("--person needs --tenant", param_hint="--person")
        claims = asyncio.run(_in_tenant(tenant, lambda: _claims_of(person)))
        role, scope, user = list(claims.roles), list(claims.scope), claims.user_id
    if not role:
        raise typer.BadParameter("give --role (or --person)", param_hint="--role")
    entries = parse_scope(scope)
    try:
        print(mint_token(s, roles=role, tenant_slug=tenant, user_id=user, scope=entries, ttl_seconds=ttl))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from exc


async def _claims_of(user_id: str):  # type: ignore[no-untyped-def]
    from tenants.scope import scoped_transaction
    from tenants.territory.people import Person
    from tenants.territory.people_service import claims_for

    async with scoped_transaction():
        person = await Person.get_or_none(user_id=user_id)
        if person is None:
            console.print(f"[red]no person {user_id} in this tenant[/red]")
            raise typer.Exit(2)
        return await claims_for(person)


@app.command("export-schema")
def export_schema(check: bool = typer.Option(False, "--check")) -> None:
    """Write schema.graphql from the code (or, with --check, fail when it is stale)."""
    from api.schema import schema

    text = schema.as_str() + "\n"
    path = Path("schema.graphql")
    if check:
        if not path.exists() or path.read_text() != text:
            console.print("[red]schema.graphql is stale: run `civicgrid export-schema`[/red]")
            raise typer.Exit(1)
        return
    path.write_text(text)


def _wait_ready(url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a child process exited early ({p.args})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


def _wait_worker(redis_url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    """Wait for the worker's first health record in Redis (arq writes it once it is polling)."""
    import redis
    from arq.constants import default_queue_name, health_check_key_suffix

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a child process exited early")
            if client.exists(default_queue_name + health_check_key_suffix):
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise RuntimeError(f"worker not healthy after {timeout:.0f} s")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Seed the demo tenants."),
) -> None:
    """Run everything: embedded PostgreSQL and Redis (unless DATABASE_URL/REDIS_URL are set), migrations,
    the API and a worker. Ctrl-C stops it all."""
    from api.auth import mint_token
    from api.embedded import EmbeddedServices

    started = time.monotonic()
    os.environ.setdefault("CIVICGRID_ENV", "development")
    get_settings.cache_clear()
    s = get_settings()  # not _settings(): a serve.env left by a killed run must not be reused
    embedded: EmbeddedServices | None = None
    children: list[subprocess.Popen] = []

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored otherwise.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        env = dict(os.environ)
        if not s.database_url or not s.redis_url:
            embedded = EmbeddedServices(s.home)
            embedded.home = s.home.resolve()
            embedded.home.mkdir(parents=True, exist_ok=True)
            with console.status("starting embedded PostgreSQL and Redis"):
                if not s.database_url:
                    embedded.start_postgres()
                    env["DATABASE_URL"] = embedded.app_url
                    env["DATABASE_OWNER_URL"] = embedded.owner_url
                if not s.redis_url:
                    embedded.start_redis()
                    env["REDIS_URL"] = embedded.redis_url
        env["CIVICGRID_HOME"] = str(s.home.resolve())
        os.environ.update(env)
        if embedded is not None:
            keys = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_ENV")
            # It holds the owner role's URL: as private as the signing secret.
            write_private(embedded.home / SERVE_ENV, "".join(f"{k}={env[k]}\n" for k in keys if k in env))
        s = _settings()
        app_url = s.require_database_url()
        with console.status("applying migrations"):
            asyncio.run(_migrate(s.database_owner_url or app_url, app_url))
        demo_users = asyncio.run(_seed_demo(app_url)) if demo else []
        cli = [sys.executable, "-m", "api.cli"]
        children.append(subprocess.Popen([*cli, "api", "--host", host, "--port", str(port)], env=env))
        children.append(subprocess.Popen([*cli, "worker"], env=env))
        base = f"http://{host}:{port}"
        _wait_ready(f"{base}/readyz", children)
        _wait_worker(s.require_redis_url(), children)
        admin = mint_token(s, roles=[Role.TENANT_ADMIN], tenant_slug="xiahuayuan", user_id="demo-admin")
        platform = mint_token(s, roles=[Role.PLATFORM_ADMIN], tenant_slug=None, user_id="demo-platform")
        console.print(f"\n[bold green]civicgrid is ready[/bold green] in {time.monotonic() - started:.1f} s")
        console.print(f"GraphiQL:  {base}/graphql")
        console.print(f"Readiness: {base}/readyz")
        if demo:
            console.print("Token (tenant_admin of 下花园区 xiahuayuan), paste into GraphiQL's headers as")
            print(f'{{"Authorization": "Bearer {admin}"}}')
            console.print("Token (platform_admin):")
            print(f'{{"Authorization": "Bearer {platform}"}}')
            for u in demo_users:
                if u.tenant == "xiahuayuan":
                    tok = mint_token(s, roles=list(u.claims.roles), tenant_slug=u.tenant, user_id=u.claims.user_id,
                                     scope=u.claims.scope)
                    roles = ",".join(r.value for r in u.claims.roles)
                    console.print(f"Token ({u.label} of xiahuayuan: {roles} {' '.join(u.claims.scope)}):")
                    print(f'{{"Authorization": "Bearer {tok}"}}')
        console.print("Mint others with: civicgrid token --tenant SLUG --role ROLE   (Ctrl-C stops everything)")
        sys.stdout.flush()
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        console.print("[red]a child process exited; stopping[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("\nstopping...")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for c in children:
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(15)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        if embedded is not None:
            (embedded.home / SERVE_ENV).unlink(missing_ok=True)
            embedded.stop()
        console.print("stopped")


tenant_app = typer.Typer(help="Tenants and their configuration.")
config_app = typer.Typer(help="A tenant's configuration document, as TOML or YAML.")
app.add_typer(tenant_app, name="tenant")
tenant_app.add_typer(config_app, name="config")


async def _with_orm(work):  # type: ignore[no-untyped-def]
    from tortoise import Tortoise

    from tenants.db import tortoise_config

    await Tortoise.init(config=tortoise_config(_settings().require_database_url(), pool_size=2))
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


@tenant_app.command("create")
def tenant_create(
    slug: str = typer.Argument(..., help="e.g. xiahuayuan"),
    name: str = typer.Option(None, "--name", help="Display name (default: the preset's title)."),
    preset: str = typer.Option(None, "--preset", help="One of: zhangjiakou, xuanhua, xiahuayuan, linshu, ..."),
    parent: str = typer.Option(None, "--parent", help="The city tenant this district sits under."),
    timezone: str = typer.Option("Asia/Shanghai", "--timezone"),
) -> None:
    """Create a tenant (platform work), optionally from a configuration preset."""
    from tenants.errors import DomainError
    from tenants.presets import load_preset
    from tenants.tenancy.service import create_tenant

    try:
        title = name or (load_preset(preset).title if preset else slug)
        tenant = asyncio.run(_with_orm(lambda: create_tenant(
            slug=slug, name=title, parent_slug=parent, timezone=timezone, preset=preset, actor="cli")))
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]created tenant {tenant.slug} ({tenant.name})[/green]")


def _fail(exc: Exception) -> None:
    from tenants.errors import DomainError

    if isinstance(exc, DomainError):
        for p in exc.problems or []:
            console.print(f"[red]{p.field}: {p.message_en} ({p.message_zh})[/red]")
        if not exc.problems:
            console.print(f"[red]{exc.message_en} ({exc.message_zh})[/red]")
    raise typer.Exit(1)


def _dump(doc: dict, fmt: str) -> str:
    if fmt == "toml":
        import tomli_w

        return tomli_w.dumps(doc)
    import yaml

    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _load(text: str, fmt: str) -> dict:
    import tomllib

    import yaml

    data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise typer.BadParameter("the file must hold a mapping")
    data.pop("preset", None)
    return data


@config_app.command("export")
def config_export(
    tenant: str = typer.Option(..., "--tenant"),
    fmt: str = typer.Option("toml", "--format", help="toml or yaml"),
    effective: bool = typer.Option(False, "--effective", help="The merged document in force, not only own values."),
    out: Path = typer.Option(None, "--out", help="Write here instead of standard output."),
) -> None:
    """Export a tenant's own configuration (or, with --effective, the whole document in force today)."""
    from tenants.config import service as config

    async def work() -> dict:
        if effective:
            return (await config.effective_config()).document.model_dump(mode="json")
        from tenants.scope import scoped_transaction

        async with scoped_transaction():
            return (await config.current_overrides())[1]

    text = _dump(asyncio.run(_in_tenant(tenant, work)), fmt)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


@config_app.command("import")
def config_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .toml or .yaml file."),
    tenant: str = typer.Option(..., "--tenant"),
    effective_from: str = typer.Option(None, "--effective-from", help="YYYY-MM-DD, today or later."),
    comment: str = typer.Option("imported from file", "--comment"),
    actor: str = typer.Option("cli", "--actor"),
) -> None:
    """Replace a tenant's own configuration with the file's: a new version, validated whole."""
    from datetime import date

    from tenants.config import service as config
    from tenants.errors import DomainError

    fmt = "toml" if file.suffix.lower() == ".toml" else "yaml"
    doc = _load(file.read_text(encoding="utf-8"), fmt)
    start = date.fromisoformat(effective_from) if effective_from else None
    try:
        version = asyncio.run(_in_tenant(tenant, lambda: config.change_config(
            actor=actor, replace=doc, effective_from=start, comment=comment)))
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]version {version.version_no} of {tenant}, in force from {version.effective_from}[/green]")


import_app = typer.Typer(help="Bulk imports from spreadsheets.")
app.add_typer(import_app, name="import")


async def _in_tenant(slug: str, work):  # type: ignore[no-untyped-def]
    """Run ``work()`` in one tenant's scope against DATABASE_URL."""
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.scope import tenant_context
    from tenants.tenancy.service import get_tenant_by_slug

    s = _settings()
    await Tortoise.init(config=tortoise_config(s.require_database_url(), pool_size=2))
    try:
        tenant = await get_tenant_by_slug(slug)
        if tenant is None:
            console.print(f"[red]no tenant {slug}[/red]")
            raise typer.Exit(2)
        with tenant_context(tenant.id):
            return await work()
    finally:
        await Tortoise.close_connections()


@import_app.command("territory")
def import_territory_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .csv or .xlsx file."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count, write nothing."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Import the good rows, report the bad."),
    actor: str = typer.Option("cli", "--actor", help="Who is importing, for the audit log."),
) -> None:
    """Import streets down to households, companies and contracts. Nothing is written if any row is bad."""
    from rich.progress import Progress

    from tenants.territory.importer import import_territory

    fmt = file.suffix.lower().lstrip(".")
    data = file.read_bytes()
    started = time.monotonic()
    with Progress(console=console) as bar:
        task = bar.add_task("importing", total=None)

        def tick(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        report = asyncio.run(
            _in_tenant(tenant, lambda: import_territory(data=data, fmt=fmt, actor=actor, dry_run=dry_run,
                                                        skip_bad_rows=skip_bad_rows, progress=tick))
        )
    for e in report.errors:
        console.print(f"[red]row {e.row}, {e.column}: {e.message_en} ({e.message_zh})[/red]")
    console.print(f"rows {report.rows}; created {report.created}; updated {report.updated}; "
                  f"unchanged {report.unchanged}; {time.monotonic() - started:.1f} s")
    if report.errors and not report.applied:
        console.print(f"[red]{len(report.errors)} problems: nothing imported[/red]")
        raise typer.Exit(1)
    if report.errors:
        console.print(f"[yellow]{len(report.errors)} problems: those rows were skipped[/yellow]")
    console.print("[yellow]dry run: nothing written[/yellow]" if dry_run else "[green]imported[/green]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
