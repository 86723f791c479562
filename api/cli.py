"""The ``civicgrid`` command: serve (embedded, all-in-one), api, worker, migrate, token, seed-demo."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tenants.settings import Settings, get_settings, write_private
from tenants.tenancy.roles import Role

app = typer.Typer(help="civicgrid: multi-tenant GraphQL backend for urban grassroots governance.")
console = Console()
err_console = Console(stderr=True)


SERVE_ENV = "serve.env"
SERVE_PID = "CIVICGRID_SERVE_PID"  # in serve.env: the running serve's process id


def _say(zh: str, en: str, style: str = "red") -> None:
    """One line on standard error, Chinese first."""
    err_console.print(escape(f"{zh} / {en}"), style=style, soft_wrap=True, highlight=False)


def _refuse(zh: str, en: str, code: int = 1) -> NoReturn:
    """Stop with one clear line (Chinese first), never a traceback."""
    _say(zh, en)
    raise typer.Exit(code)


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
    from tenants.demo.seed import seed_demo

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
def api(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(0, "--workers", help="Worker processes (default: CIVICGRID_API_WORKERS, 1)."),
) -> None:
    """Run the API (uvicorn) against DATABASE_URL and REDIS_URL."""
    import uvicorn

    from api.app import create_app
    from api.server import uvicorn_options

    if workers:
        os.environ["CIVICGRID_API_WORKERS"] = str(workers)  # the worker processes read it too
    settings = _settings()
    options = {"host": host, "port": port, "log_level": "info", "proxy_headers": True, **uvicorn_options(settings)}
    # uvicorn drains on SIGTERM, then raises it again to the handler it found: a stop that was asked for and
    # carried out exits 0 (also when it comes before uvicorn listens).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if settings.api_workers == 1:
        uvicorn.run(create_app(settings), **options)
    else:  # each worker process builds its own app (its own pools and caches) from the same settings
        # /metrics sums the counters of every worker process (README, "Observability").
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="civicgrid-metrics-"))
        uvicorn.run("api.app:create_app", factory=True, workers=settings.api_workers, **options)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def worker(
    check: bool = typer.Option(False, "--check", help="Report worker health (its key in Redis) and exit."),
    alive: bool = typer.Option(
        False, "--alive", help="Exit 0 if this worker's loop beat within CIVICGRID_WORKER_STALE_SECONDS (liveness)."
    ),
) -> None:
    """Run the arq worker against DATABASE_URL and REDIS_URL."""
    if alive:  # the liveness probe: this container's heartbeat file, no Redis, nothing heavy imported
        from jobs.liveness import alive as beating
        from jobs.liveness import heartbeat_file

        raise typer.Exit(0 if beating(heartbeat_file(), _settings().worker_stale_seconds) else 1)
    from jobs.worker import check as check_worker
    from jobs.worker import create_worker

    _settings()
    if check:  # this worker's own key in Redis (CIVICGRID_WORKER_ID, else the host name): a frozen replica fails
        raise typer.Exit(asyncio.run(check_worker()))
    create_worker().run()


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
        # Without a configured secret only the running serve's development secret makes tokens it accepts;
        # generating a new one here would mint tokens that every server rejects.
        if _running_serve(s.home) is None or not (s.home / "jwt_secret").exists():
            _refuse(
                f"没有找到正在运行的 civicgrid serve（CIVICGRID_HOME={s.home}）：请先在同一目录运行 "
                "`civicgrid serve`（或 make run），或设置 CIVICGRID_JWT_SECRET",
                f"no running `civicgrid serve` found for CIVICGRID_HOME={s.home}: start it in this directory first, "
                "or set CIVICGRID_JWT_SECRET",
            )
        s = s.model_copy(update={"env": "development"})
    if person:
        if not tenant:
            raise typer.BadParameter("--person needs --tenant", param_hint="--person")
        claims = asyncio.run(_in_tenant(tenant, lambda: _claims_of(person)))
        role, scope, user = list(claims.roles), list(claims.scope), claims.user_id
    if not role:
        raise typer.BadParameter("give --role (or --person)", param_hint="--role")
    scopes = parse_scope(scope)
    if tenant and not person:
        asyncio.run(_in_tenant(tenant, _nothing))  # refuses a tenant that does not exist
    try:
        print(mint_token(s, roles=role, tenant_slug=tenant, user_id=user, scope=scopes, ttl_seconds=ttl))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from exc


async def _nothing() -> None:
    return None


def _running_serve(home: Path) -> int | None:
    """The process id of the `serve` that runs for ``home``, from its serve.env, if that process is alive."""
    try:
        lines = (home / SERVE_ENV).read_text().splitlines()
    except OSError:
        return None
    found = [v for k, _, v in (line.partition("=") for line in lines) if k == SERVE_PID and v.isdigit()]
    if not found:
        return None
    try:
        os.kill(int(found[0]), 0)
    except ProcessLookupError:
        return None  # left behind by a killed serve
    except PermissionError:
        pass  # alive, another user's
    return int(found[0])


async def _claims_of(user_id: str):  # type: ignore[no-untyped-def]
    from tenants.scope import scoped_transaction
    from tenants.territory.people_service import claims_of_user

    async with scoped_transaction():
        claims = await claims_of_user(user_id)
        if claims is None:
            console.print(f"[red]no person {user_id} in this tenant[/red]")
            raise typer.Exit(2)
        return claims


@app.command("export-schema")
def export_schema(
    check: bool = typer.Option(False, "--check"),
    release: bool = typer.Option(
        False, "--release", help="Also store it as tests/schema_released.graphql: the last release, which"
        " tests/test_schema_breaking.py compares against (run at release time only)."
    ),
) -> None:
    """Write schema.graphql from the code (or, with --check, fail when it is stale)."""
    from api.schema import schema

    text = schema.as_str() + "\n"
    path = Path("schema.graphql")
    if release:
        Path("tests/schema_released.graphql").write_text(text)
    if check:
        if not path.exists() or path.read_text() != text:
            console.print("[red]schema.graphql is stale: run `civicgrid export-schema`[/red]")
            raise typer.Exit(1)
        return
    path.write_text(text)


@app.command("roles")
def roles(
    markdown: bool = typer.Option(True, "--markdown", help="The README's table of permissions (the default)."),
    write: bool = typer.Option(False, "--write", help="Rewrite that table in README.md."),
) -> None:
    """Who may do what: every permission of tenants/permissions.py with the roles that hold it."""
    from tenants import permissions

    if not write:
        print(permissions.markdown(), end="")
        return
    path = Path("README.md")
    path.write_text(permissions.in_readme(path.read_text(encoding="utf-8")), encoding="utf-8")


def _wait_ready(url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{_child(p)} 进程提前退出（见上方输出） / the {_child(p)} process exited early")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} {timeout:.0f} 秒内未就绪 / {url} not ready after {timeout:.0f} s")


def _child(p: subprocess.Popen) -> str:
    args = list(p.args) if isinstance(p.args, list | tuple) else [p.args]
    return "api" if "api" in args else "worker" if "worker" in args else str(args[-1])


def _wait_worker(redis_url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    """Wait for the worker's first health record in Redis (arq writes it once it is polling)."""
    import redis

    from jobs.worker import health_key, worker_id

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("API 或 worker 进程提前退出 / a child process exited early")
            if client.exists(health_key(worker_id())):  # the child's own key (same env, same host)
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise RuntimeError(f"worker {timeout:.0f} 秒内未就绪 / worker not healthy after {timeout:.0f} s")


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
    _check_port(host, port)
    os.environ.setdefault("CIVICGRID_ENV", "development")
    get_settings.cache_clear()
    s = get_settings()  # not _settings(): a serve.env left by a killed run must not be reused
    if (pid := _running_serve(s.home)) is not None and pid != os.getpid():
        _refuse(
            f"CIVICGRID_HOME={s.home} 已有一个 civicgrid serve 在运行（进程 {pid}）",
            f"a civicgrid serve already runs for CIVICGRID_HOME={s.home} (process {pid})",
        )
    embedded: EmbeddedServices | None = None
    children: list[subprocess.Popen] = []
    failed = wrote_env = False

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
        # Other commands (token, import, worker --check) find this serve, its services and its secret here.
        keys = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CIVICGRID_ENV")
        s.home.mkdir(parents=True, exist_ok=True)
        # It holds the owner role's URL: as private as the signing secret.
        write_private(
            s.home / SERVE_ENV, "".join(f"{k}={env[k]}\n" for k in keys if k in env) + f"{SERVE_PID}={os.getpid()}\n"
        )
        wrote_env = True
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
    except (RuntimeError, OSError) as exc:  # a service or child that would not start: say which, stop the rest
        err_console.print(escape(f"civicgrid serve 启动失败：{exc}"), style="red", soft_wrap=True, highlight=False)
        failed = True
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
        if wrote_env:
            (s.home / SERVE_ENV).unlink(missing_ok=True)
        if embedded is not None:
            embedded.stop()
        console.print("stopped")
    if failed:
        raise typer.Exit(1)


def _check_port(host: str, port: int) -> None:
    """Refuse at once, before starting anything, when the API's address cannot be listened on."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            _refuse(
                f"端口 {port} 已被占用（{host}）：请用 --port 换一个端口（make run PORT=8001）",
                f"port {port} on {host} is already in use: choose another with --port (make run PORT=8001)",
            )
        why = exc.strerror or str(exc)
        _refuse(f"无法监听 {host}:{port}：{why}", f"cannot listen on {host}:{port}: {why}")


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
    preset: str = typer.Option(None, "--preset", help="One of: zhangjiakou, xuanhua, xiahuayuan, linshu, ... "
                               "(default: a district inherits its city's; a city starts from zhangjiakou's)"),
    parent: str = typer.Option(None, "--parent", help="The city tenant this district sits under."),
    timezone: str = typer.Option("Asia/Shanghai", "--timezone"),
) -> None:
    """Create a tenant (platform work) with its first configuration: a preset's (a whole document for a city)."""
    from tenants.errors import DomainError
    from tenants.presets import load_preset
    from tenants.tenancy.service import DEFAULT_PRESET, create_tenant

    try:
        title = name or (load_preset(preset).title if preset else slug)
        tenant = asyncio.run(_with_orm(lambda: create_tenant(
            slug=slug, name=title, parent_slug=parent, timezone=timezone, preset=preset, actor="cli")))
    except DomainError as exc:
        _fail(exc)
    first = preset or (DEFAULT_PRESET if parent is None else None)
    source = f"configuration preset {first}" if first else f"the configuration of {parent}, inherited"
    console.print(f"[green]created tenant {tenant.slug} ({tenant.name}) with {source}[/green]")


def _fail(exc: Exception) -> None:
    from tenants.errors import DomainError

    if isinstance(exc, DomainError):
        for p in exc.problems or []:
            console.print(f"[red]{p.field}: {p.message_en} ({p.message_zh})[/red]")
        if not exc.problems:
            console.print(f"[red]{exc.message_en} ({exc.message_zh})[/red]")
    raise typer.Exit(1)


CONFIG_FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def _without_none(node: object) -> object:
    """None means "not set" in a configuration document (and TOML has no null): leave such keys out."""
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_none(v) for v in node]
    return node


def _dump(doc: dict, fmt: str) -> str:
    doc = _without_none(doc)  # type: ignore[assignment]
    if fmt == "toml":
        import tomli_w

        return tomli_w.dumps(doc)
    import yaml

    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _load(file: Path) -> dict:
    """The configuration document in ``file``: a mapping in TOML (.toml) or YAML (.yaml, .yml)."""
    import tomllib

    import yaml

    fmt = CONFIG_FORMATS.get(file.suffix.lower())
    if fmt is None:
        _refuse(f"{file.name}：文件须为 TOML 或 YAML（.toml、.yaml 或 .yml）",
                f"{file.name}: use a .toml, .yaml or .yml file", 2)
    try:
        text = file.read_text(encoding="utf-8")
        data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        _refuse(*_toml_problem(str(file), exc), 2)
    except UnicodeDecodeError:
        _refuse(f"{file.name} 不是 UTF-8 编码：请另存为 UTF-8", f"{file.name} is not UTF-8 text: save it as UTF-8", 2)
    except yaml.YAMLError as exc:
        text = " ".join(str(exc).split())
        _refuse(f"{file.name} 不是有效的 YAML 文件：{text}", f"{file.name} is not valid YAML: {text}", 2)
    if not isinstance(data, dict):
        _refuse(f"{file.name} 须为键值映射", f"{file.name} must hold a mapping", 2)
    data.pop("preset", None)
    return data


def _show(value: object) -> str:
    import json

    return "(not set)" if value is None else json.dumps(value, ensure_ascii=False)


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
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .toml, .yaml or .yml file."),
    tenant: str = typer.Option(..., "--tenant"),
    effective_from: str = typer.Option(None, "--effective-from", help="YYYY-MM-DD, today or later."),
    comment: str = typer.Option("imported from file", "--comment"),
    actor: str = typer.Option("cli", "--actor"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
) -> None:
    """Replace a tenant's own configuration with the file's: shows what changes, asks, then records a new
    version, validated whole."""
    from datetime import date

    from tenants.config import service as config
    from tenants.config.merge import diff
    from tenants.errors import DomainError
    from tenants.scope import scoped_transaction
    from tenants.territory.access import SYSTEM

    doc = _load(file)
    try:
        start = date.fromisoformat(effective_from) if effective_from else None
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint="--effective-from") from exc

    async def current() -> tuple[int, dict]:
        async with scoped_transaction():
            latest, own = await config.current_overrides()
            return (latest.version_no if latest else 0), own

    based_on, own = asyncio.run(_in_tenant(tenant, current))
    changes = diff(own, doc)
    if not changes:
        console.print(f"no changes: {file.name} holds {tenant}'s own configuration already (无变化，未导入)")
        return
    console.print(f"{len(changes)} changes to {tenant}'s own configuration (version {based_on}):")
    for c in changes:
        console.print(f"  {c['path']}: {_show(c['before'])} -> {_show(c['after'])}", markup=False)
    if not yes and not typer.confirm("Apply these changes? 确认导入？", default=False):
        console.print("[yellow]nothing imported (未导入)[/yellow]")
        raise typer.Exit(1)
    try:
        version = asyncio.run(_in_tenant(tenant, lambda: config.change_config(
            access=SYSTEM, actor=actor, replace=doc, effective_from=start, comment=comment, based_on=based_on)))
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]version {version.version_no} of {tenant}, in force from {version.effective_from}[/green]")


@config_app.command("withdraw")
def config_withdraw(
    version_no: int = typer.Argument(..., help="The scheduled version (the latest, not yet in force)."),
    tenant: str = typer.Option(..., "--tenant"),
    reason: str = typer.Option(..., "--reason", help="Why, for the audit log."),
    actor: str = typer.Option("cli", "--actor"),
) -> None:
    """Withdraw a scheduled version before it takes effect: the version before it stays in force."""
    from tenants.config import service as config
    from tenants.errors import DomainError
    from tenants.territory.access import SYSTEM

    try:
        version = asyncio.run(_in_tenant(tenant, lambda: config.withdraw_version(
            access=SYSTEM, actor=actor, version_no=version_no, reason=reason)))
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]version {version.version_no} of {tenant} (from {version.effective_from}) withdrawn"
                  "[/green]")


import_app = typer.Typer(help="Bulk imports from spreadsheets.")
app.add_typer(import_app, name="import")


async def _in_tenant(slug: str, work):  # type: ignore[no-untyped-def]
    """Run ``work()`` in one tenant's scope against DATABASE_URL."""
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.scope import tenant_context
    from tenants.tenancy.service import get_tenant_by_slug

    s = _settings()
    if not s.database_url:
        _refuse(
            "未设置 DATABASE_URL，也没有找到正在运行的 civicgrid serve：请先运行 `civicgrid serve`（或 make run）",
            "DATABASE_URL is not set and no running `civicgrid serve` was found: start it first (or make run)",
            2,
        )
    await Tortoise.init(config=tortoise_config(s.database_url, pool_size=2))
    try:
        tenant = await get_tenant_by_slug(slug)
        if tenant is None:
            _refuse(f"没有租户 {slug}", f"no tenant {slug}", 2)
        with tenant_context(tenant.id):
            return await work()
    finally:
        await Tortoise.close_connections()


def _import_file(
    file: Path, tenant: str, run: Callable[..., Awaitable[Any]], *, dry_run: bool, skip_bad_rows: bool, actor: str
) -> Any:
    """Run an importer on ``file`` for ``tenant`` with a progress bar; print its problems row by row and stop
    (exit 1) when nothing was imported. The file's own problems (format, encoding, header) are one line each."""
    from rich.progress import Progress

    from tenants.errors import DomainError
    from tenants.territory.access import SYSTEM

    fmt = file.suffix.lower().lstrip(".")
    data = file.read_bytes()
    started = time.monotonic()
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("importing", total=None)

            def tick(phase: str, done: int, total: int) -> None:
                bar.update(task, description=phase, completed=done, total=total)

            report = asyncio.run(
                _in_tenant(tenant, lambda: run(access=SYSTEM, data=data, fmt=fmt, actor=actor, dry_run=dry_run,
                                               skip_bad_rows=skip_bad_rows, progress=tick))
            )
    except DomainError as exc:  # the file itself: its format, encoding or header
        for p in exc.problems or []:
            _say(f"{file.name}：{p.message_zh}", f"{file.name}: {p.message_en}")
        if not exc.problems:
            _say(f"{file.name}：{exc.message_zh}", f"{file.name}: {exc.message_en}")
        raise typer.Exit(1) from None
    for e in report.errors:
        console.print(escape(f"第 {e.row} 行 {e.column}：{e.message_zh} / row {e.row}, {e.column}: {e.message_en}"),
                      style="red", soft_wrap=True, highlight=False)
    print(f"{report.rows} 行 rows, {time.monotonic() - started:.1f} s")
    return report


def _import_outcome(report: Any, dry_run: bool) -> None:
    if report.errors and not report.applied:
        n = len(report.errors)
        console.print(f"[red]{n} 处问题：未导入任何数据 / {n} problems: nothing imported[/red]", soft_wrap=True)
        raise typer.Exit(1)
    if report.errors:
        console.print(f"[yellow]{len(report.errors)} 处问题，这些行已跳过 / {len(report.errors)} problems: "
                      "those rows were skipped[/yellow]", soft_wrap=True)
    if dry_run:
        console.print("[yellow]试运行，未写入 / dry run: nothing written[/yellow]")
    else:
        console.print("[green]已导入 / imported[/green]")


# The options every import takes.
SHEET = typer.Argument(..., exists=True, dir_okay=False, help="A .csv or .xlsx file.")
TENANT = typer.Option(..., "--tenant", help="Tenant slug.")
DRY_RUN = typer.Option(False, "--dry-run", help="Check and count, write nothing.")
SKIP_BAD_ROWS = typer.Option(False, "--skip-bad-rows", help="Import the good rows, report the bad.")
IMPORT_ACTOR = typer.Option("cli", "--actor", help="Who is importing, for the audit log.")


@import_app.command("territory")
def import_territory_cmd(
    file: Path = SHEET,
    tenant: str = TENANT,
    dry_run: bool = DRY_RUN,
    skip_bad_rows: bool = SKIP_BAD_ROWS,
    actor: str = IMPORT_ACTOR,
) -> None:
    """Import streets down to households, companies and contracts. Nothing is written if any row is bad."""
    from tenants.territory.importer import import_territory

    report = _import_file(file, tenant, import_territory, dry_run=dry_run, skip_bad_rows=skip_bad_rows, actor=actor)
    print(f"新建 created:   {_counts(report.created)}")
    print(f"更新 updated:   {_counts(report.updated)}")
    print(f"未变 unchanged: {_counts(report.unchanged)}")
    _import_outcome(report, dry_run)


COUNTED = {
    "street": "街道 street",
    "community": "社区 community",
    "grid": "网格 grid",
    "compound": "小区 compound",
    "building": "楼栋 building",
    "household": "户 household",
    "company": "物业企业 company",
    "contract": "合同 contract",
    "ticket": "工单 ticket",
}


def _counts(counts: dict[str, int]) -> str:
    """``{"street": 2, "household": 3}`` as a person reads it: 街道 street 2, 户 household 3 (or "0")."""
    shown = [f"{label} {counts[key]}" for key, label in COUNTED.items() if counts.get(key)]
    shown += [f"{key} {n}" for key, n in counts.items() if key not in COUNTED and n]
    return ", ".join(shown) or "0"


@import_app.command("tickets")
def import_tickets_cmd(
    file: Path = SHEET,
    tenant: str = TENANT,
    dry_run: bool = DRY_RUN,
    skip_bad_rows: bool = SKIP_BAD_ROWS,
    actor: str = IMPORT_ACTOR,
) -> None:
    """Import historical tickets with their own times. Nothing is written if any row is bad."""
    from tenants.tickets.importer import import_tickets

    report = _import_file(file, tenant, import_tickets, dry_run=dry_run, skip_bad_rows=skip_bad_rows, actor=actor)
    print(f"新建 created:   {_counts(report.created)}")
    print(f"未变 unchanged: {_counts(report.unchanged)}")
    _import_outcome(report, dry_run)


assessment_app = typer.Typer(help="Property-service assessment.")
app.add_typer(assessment_app, name="assessment")


def _paper_sheets(path: Path) -> list:  # type: ignore[type-arg]
    """CSV rows ``compound_id,body_code,item_code,points[,note]`` grouped into one sheet per compound and body."""
    import csv

    from tenants.assessment.late import PaperSheet

    sheets: dict[tuple[int, str], tuple[dict[str, int], dict[str, str]]] = {}
    bad = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                key = (int(row["compound_id"]), row["body_code"].strip())
                scores, notes = sheets.setdefault(key, ({}, {}))
                item = row["item_code"].strip()
                scores[item] = int(row["points"])
                if (row.get("note") or "").strip():
                    notes[item] = row["note"].strip()
            except (KeyError, TypeError, ValueError, AttributeError):
                bad.append(n)
    for n in bad:
        console.print(f"[red]row {n}: needs compound_id, body_code, item_code and whole-number points[/red]")
    if bad:
        raise typer.Exit(1)
    return [PaperSheet(c, b, scores, notes) for (c, b), (scores, notes) in sheets.items()]


@assessment_app.command("enter-scores")
def enter_scores_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: compound_id,body_code,item_code,points"),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    period: str = typer.Option(..., "--period", help="A past period, e.g. 2026Q2 or 2026-05."),
    reason: str = typer.Option(..., "--reason", help="Why the sheets come late, for the audit log."),
    actor: str = typer.Option("cli", "--actor", help="Who is entering, for the audit log."),
) -> None:
    """补录: enter a past round's paper score sheets after its deadline (as a tenant administrator)."""
    from tenants.assessment.late import enter_late
    from tenants.errors import DomainError
    from tenants.territory.access import SYSTEM

    sheets = _paper_sheets(file)
    try:
        rows = asyncio.run(_in_tenant(tenant, lambda: enter_late(
            access=SYSTEM, actor=actor, period_key=period, sheets=sheets, reason=reason)))
    except DomainError as exc:
        _fail(exc)
    console.print(f"[green]{len(rows)} sheets entered late for {period}[/green]")


# --- backup and restore (tenants/backup.py) ---------------------------------------------------------------------

PG_BIN = typer.Option(None, "--pg-bin", file_okay=False,
                      help="Directory of pg_dump/pg_restore (default: the embedded PostgreSQL's, then the PATH's).")


@contextlib.contextmanager
def _database_urls() -> Iterator[tuple[str, str]]:
    """The owner's and the application's URLs: DATABASE_OWNER_URL/DATABASE_URL (or a running serve's), else the
    embedded PostgreSQL of $CIVICGRID_HOME, started for the command and stopped after it."""
    s = _settings()
    if s.database_url:
        yield s.database_owner_url or s.database_url, s.database_url
        return
    from api.embedded import EmbeddedServices

    embedded = EmbeddedServices(s.home.resolve())
    embedded.home.mkdir(parents=True, exist_ok=True)
    try:
        embedded.start_postgres()
    except RuntimeError as exc:  # told in Chinese / English already
        zh, _, en = str(exc).partition(" / ")
        _refuse(zh, en or zh)
    try:
        yield embedded.owner_url, embedded.app_url
    finally:
        embedded.stop()


@app.command("backup")
def backup_cmd(
    file: Path = typer.Argument(..., dir_okay=False, help="The backup file to write (pg_dump custom format)."),
    pg_bin: Path = PG_BIN,
) -> None:
    """Back the whole database up into FILE, as DATABASE_OWNER_URL (or the embedded PostgreSQL)."""
    from tenants import backup

    with _database_urls() as (owner_url, _):
        done = asyncio.run(backup.backup(owner_url, file, bin_dir=pg_bin))
    console.print(f"[green]已备份 / backed up: {done.database}, {done.tables} tables, {done.bytes:,} bytes -> "
                  f"{escape(str(done.file))}[/green]", soft_wrap=True)


@app.command("restore")
def restore_cmd(
    file: Path = typer.Argument(..., dir_okay=False, help="A file written by `civicgrid backup`."),
    clean: bool = typer.Option(False, "--clean", "--force", help="Empty a database that has tables first."),
    pg_bin: Path = PG_BIN,
) -> None:
    """Restore FILE into an empty database (DATABASE_OWNER_URL, or the embedded one), grant DATABASE_URL's role
    its rights; then run `civicgrid migrate` to bring an older backup to this release."""
    from tenants import backup

    if not os.environ.get("DATABASE_URL") and (pid := _running_serve(_settings().home)) is not None:
        _refuse(f"civicgrid serve 正在运行（进程 {pid}）：请先停止它，再恢复",
                f"civicgrid serve is running (process {pid}): stop it before restoring")
    with _database_urls() as (owner_url, app_url):
        done = asyncio.run(backup.restore(owner_url, app_url, file, clean=clean, bin_dir=pg_bin))
    console.print(f"[green]已恢复 / restored: {done.database}, {done.tables} tables from {escape(str(done.file))}"
                  "[/green]", soft_wrap=True)


def _toml_problem(name: str, exc: Exception) -> tuple[str, str]:
    """A broken TOML file in one line, Chinese then English, with the line and column."""
    where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    zh_where = f"（第 {where[1]} 行第 {where[2]} 列）" if where else ""
    return f"{name} 不是有效的 TOML 文件{zh_where}", f"{name} is not valid TOML: {exc}"


def main() -> None:
    """The command, with the errors a person can fix told in one line instead of a traceback."""
    import tomllib

    from tenants.errors import DomainError

    try:
        app()
    except tomllib.TOMLDecodeError as exc:
        _say(*_toml_problem(next((a for a in sys.argv[1:] if a.lower().endswith(".toml")), "TOML"), exc))
        sys.exit(1)
    except UnicodeDecodeError:
        _say("文件不是 UTF-8 编码：请另存为 UTF-8", "the file is not UTF-8 text: save it as UTF-8")
        sys.exit(1)
    except DomainError as exc:
        for p in exc.problems or []:
            _say(f"{p.field}：{p.message_zh}", f"{p.field}: {p.message_en}")
        if not exc.problems:
            _say(exc.message_zh, exc.message_en)
        sys.exit(1)
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):  # a broken YAML configuration file
            text = " ".join(str(exc).split())
            _say(f"YAML 文件有误：{text}", f"the YAML file is broken: {text}")
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
