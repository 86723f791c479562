"""Database wiring: Tortoise configuration from a URL, migrations, and the application role."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import NestedTransactionContext, TransactionContextPooled
from tortoise.connection import connections
from tortoise.exceptions import TransactionManagementError
from tortoise.transactions import in_transaction

MODEL_MODULES = [
    "tenants.tenancy.models",
    "tenants.jobruns.models",
    "tenants.audit.models",
    "tenants.config.models",
    "tenants.territory.models",
    "tenants.territory.parties",
    "tenants.territory.people",
    "tenants.tickets.models",
    "tenants.inbox.models",
    "tenants.assessment.models",
    "tenants.ledger.models",
    "tenants.subsidies.models",
    "tenants.brand.models",
    "tenants.bonds.models",
    "tenants.idempotency",
    "tenants.files.models",
    "tenants.points.models",
    "tenants.points.grid_models",
    "tenants.points.voucher_models",
    "tenants.dual.models",
    "tenants.dual.list_models",
    "tenants.dual.rule_models",
    "tenants.dual.emergency_models",
    "tenants.meetings.models",
    "tenants.assessment.manager_models",
]

# Append-only tables: the application role may insert and read, never update or delete.
APPEND_ONLY_TABLES = (
    "audit_entry",
    "config_version",
    "ticket_event",
    "escalation",
    "score_submission",
    "ledger_journal",
    "ledger_posting",
    "bond_transaction",
    "brand_project_step",
    "points_entry",
    "points_lot_use",
    "points_expiry_run",
    "dual_wish_event",  # issue 18 part C: a wish's timeline
    "meeting_decision_event",  # issue 19 part B: a meeting decision's timeline
)
# ... except these columns, which record a one-time event on an otherwise immutable row (a trigger guards them).
APPEND_ONLY_UPDATABLE = {
    "config_version": ("withdrawn_at", "withdrawn_by", "withdrawal_reason", "replaced_by"),
}
APP_LABEL = "civicgrid"


def credentials(url: str, *, pool_size: int = 20) -> dict[str, Any]:
    """Turn ``postgresql://user:pw@host:port/db?host=/socket/dir`` into asyncpg credentials for Tortoise."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "asyncpg"}:
        raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}")
    query = parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or "localhost"])[0]
    return {
        "host": host,
        "port": parsed.port or int(query.get("port", ["5432"])[0]),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "database": parsed.path.lstrip("/") or "postgres",
        "minsize": 1,
        "maxsize": pool_size,
    }


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool: every setting civicgrid makes is
    transaction-local (``set_config(..., true)``, ``pg_advisory_xact_lock``), it opens no cursor outside a
    transaction and listens to nothing. asyncpg's default (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``) would be one more round trip per request; an open transaction is still rolled back by asyncpg."""


def tortoise_config(url: str, *, pool_size: int = 20) -> dict[str, Any]:
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.asyncpg",
                "credentials": {**credentials(url, pool_size=pool_size), "reset": _no_reset},
            }
        },
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "tenants.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


class _Savepoint(TransactionWrapper):
    """A savepoint inside a transaction that asyncpg did not start itself (so not ``connection.transaction()``)."""

    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self.name = f"civicgrid_sp_{next(_savepoints)}"

    def _in_transaction(self) -> Any:
        return NestedTransactionContext(_Savepoint(self))

    async def begin(self) -> None:
        await self._connection.execute(f"SAVEPOINT {self.name}")

    async def _finish(self, sql: str) -> None:
        if self._finalized:
            raise TransactionManagementError("Transaction already finalised")
        self._finalized = True
        await self._connection.execute(sql)

    async def commit(self) -> None:
        await self._finish(f"RELEASE SAVEPOINT {self.name}")

    async def rollback(self) -> None:
        await self._finish(f"ROLLBACK TO SAVEPOINT {self.name}")


class _Pipelined(_Savepoint):
    """The outermost transaction: ``BEGIN`` and the scope in one message."""

    def __init__(self, client: Any, enter_sql: str) -> None:
        super().__init__(client)
        self.enter_sql = enter_sql
        self.memo: dict[str, Any] = {}  # what the transaction's code reads once (transaction_memo)

    async def begin(self) -> None:
        await self._connection.execute(f"BEGIN; {self.enter_sql}")

    async def commit(self) -> None:
        await self._finish("COMMIT")

    async def rollback(self) -> None:
        await self._finish("ROLLBACK")


_savepoints = itertools.count(1)


def transaction_memo() -> dict[str, Any] | None:
    """A dict that lives as long as the current transaction (None outside one): what a request reads once."""
    try:
        client = connections.get("default")
    except Exception:  # no connection configured: nothing to keep
        return None
    return client.memo if isinstance(client, _Pipelined) else None


@asynccontextmanager
async def transaction(enter_sql: str) -> AsyncIterator[Any]:
    """A transaction on the default connection whose ``BEGIN`` and ``enter_sql`` (the scope's ``set_config``)
    reach PostgreSQL in one round trip; blocks nested in it are savepoints. ``enter_sql`` is trusted text: no
    parameters travel with a message of several statements."""
    client = connections.get("default")
    if type(client) is not AsyncpgDBClient:  # inside another transaction, or another engine: the plain way
        async with in_transaction() as conn:
            await conn.execute_query(enter_sql)
            yield conn
        return
    async with TransactionContextPooled(_Pipelined(client, enter_sql), client._pool_init_lock) as conn:
        yield conn


async def connect(url: str) -> asyncpg.Connection:
    """A plain asyncpg connection (for the owner's administrative work and for checks)."""
    c = credentials(url)
    return await asyncpg.connect(
        host=c["host"], port=c["port"], user=c["user"], password=c["password"] or None, database=c["database"]
    )


async def run_migrations(owner_url: str) -> None:
    """Apply every migration as the owner role."""
    from tortoise.context import TortoiseContext
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(owner_url, pool_size=2)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await migrate(config=config)


async def ensure_app_role(owner_url: str, app_url: str) -> None:
    """Create the application role if missing and grant it data rights (never ownership, never BYPASSRLS)."""
    app = credentials(app_url)
    owner = credentials(owner_url)
    role, password, database = app["user"], app["password"], owner["database"]
    if role == owner["user"]:
        raise RuntimeError("DATABASE_URL must use a different role from DATABASE_OWNER_URL")
    conn = await connect(owner_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if not exists:
            pw = await conn.fetchval("SELECT quote_literal($1)", password) if password else None
            ident = await conn.fetchval("SELECT quote_ident($1)", role)
            await conn.execute(
                f"CREATE ROLE {ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                + (f" PASSWORD {pw}" if pw else "")
            )
        ident = await conn.fetchval("SELECT quote_ident($1)", role)
        db_ident = await conn.fetchval("SELECT quote_ident($1)", database)
        await conn.execute(
            f"""
            GRANT CONNECT ON DATABASE {db_ident} TO {ident};
            GRANT USAGE ON SCHEMA public TO {ident};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ident};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ident};
            REVOKE ALL ON TABLE tortoise_migrations FROM {ident};
            """
        )
        for table in APPEND_ONLY_TABLES:
            await conn.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON TABLE {table} FROM {ident}")
        for table, columns in APPEND_ONLY_UPDATABLE.items():
            await conn.execute(f"GRANT UPDATE ({', '.join(columns)}) ON TABLE {table} TO {ident}")
    finally:
        await conn.close()


async def check_app_role(app_url: str) -> list[str]:
    """What is wrong with the application role for RLS to hold (empty when all is well)."""
    conn = await connect(app_url)
    try:
        row = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
    finally:
        await conn.close()
    problems = []
    if row["rolsuper"]:
        problems.append("the application role is a superuser")
    if row["rolbypassrls"]:
        problems.append("the application role has BYPASSRLS")
    if owned:
        problems.append(f"the application role owns {owned} tables")
    return problems


async def refuse_privileged_role(app_url: str) -> None:
    """Refuse to start when the application role could bypass row-level security."""
    problems = await check_app_role(app_url)
    if problems:
        raise RuntimeError(
            "DATABASE_URL must name the application role; " + "; ".join(problems)
            + " (row-level security would not apply). Use DATABASE_OWNER_URL for migrations only."
        )


def cli_config() -> dict[str, Any]:
    """Configuration for the ``tortoise`` CLI (``makemigrations``), from DATABASE_OWNER_URL when set."""
    from tenants.settings import get_settings

    s = get_settings()
    return tortoise_config(s.database_owner_url or s.database_url or "postgresql://postgres@localhost/civicgrid")


TORTOISE_ORM = cli_config()  # for `tortoise -c tenants.db.TORTOISE_ORM makemigrations`


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached or dropped the connection:
    the outcome of the work is unknown, and a retry may succeed (not a bug, not the client's fault)."""
    import asyncio

    from tortoise.exceptions import DBConnectionError

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (OSError, asyncio.TimeoutError, DBConnectionError, asyncpg.PostgresConnectionError,
                            asyncpg.InterfaceError, asyncpg.InternalClientError,
                            asyncpg.exceptions.OperatorInterventionError,
                            asyncpg.exceptions.CannotConnectNowError)):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
