"""Backups of the whole database (``civicgrid backup`` / ``restore``): pg_dump's custom format, restored with
pg_restore into an empty database, as the owner role.

What a backup holds: every table with its rows, sequences, indexes, constraints, triggers, row-level security (each
table's ENABLE/FORCE and its policies) and the migrations applied. Roles live in the cluster, not in a database, so
the restore creates the application role when it is missing and grants it its rights again from the code
(``ensure_app_role``), whatever the role is called where the backup is restored. Redis holds only the job queue.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tenants.db import connect, credentials, ensure_app_role
from tenants.errors import Conflict, DomainError, InvalidInput, Problem

ARCHIVE_MARK = "TABLE public tortoise_migrations"  # what makes an archive a civicgrid database's
_TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"


class BackupFailed(DomainError):
    """pg_dump or pg_restore is missing, too old for the server, or failed."""

    code = "BACKUP_FAILED"


@dataclass(frozen=True)
class Tools:
    dump: Path
    restore: Path
    major: int  # their PostgreSQL major version


@dataclass(frozen=True)
class Summary:
    file: Path
    database: str
    tables: int
    bytes: int


def _candidates(bin_dir: Path | None) -> list[Path]:
    """Directories that may hold pg_dump and pg_restore: the one given, else pgserver's (the embedded PostgreSQL's
    own), the PATH's, and Debian's /usr/lib/postgresql/N/bin, newest first."""
    if bin_dir is not None:
        return [bin_dir]
    dirs: list[Path] = []
    try:
        import pgserver

        dirs.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:  # production images leave the embedded extra out
        pass
    if found := shutil.which("pg_dump"):
        dirs.append(Path(found).resolve().parent)
    dirs += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)]
    return dirs


def _version_key(path: str) -> int:
    found = re.search(r"/(\d+)/bin$", path)
    return int(found[1]) if found else 0


async def _major(program: Path) -> int | None:
    try:
        proc = await asyncio.create_subprocess_exec(str(program), "--version", stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
    except OSError:
        return None
    out, _ = await proc.communicate()
    found = re.search(rb"\(PostgreSQL\) (\d+)", out)
    return int(found[1]) if found else None


async def find_tools(server_major: int, bin_dir: Path | None = None) -> Tools:
    """pg_dump and pg_restore of the server's major version or newer (pg_dump refuses an older one)."""
    seen: list[str] = []
    for d in _candidates(bin_dir):
        dump, restore = d / "pg_dump", d / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        major = await _major(dump)
        seen.append(f"{d} ({major})")
        if major is not None and major >= server_major:
            return Tools(dump, restore, major)
    where = ", ".join(seen) or "none found"
    raise BackupFailed(
        f"没有找到 PostgreSQL {server_major} 或更新版本的 pg_dump/pg_restore（已找到：{where}）："
        "请安装，或用 --pg-bin 指定目录",
        f"no pg_dump/pg_restore of PostgreSQL {server_major} or newer (found: {where}): install them, or name their "
        "directory with --pg-bin",
        field="pgBin",
        details={"serverMajor": server_major},
    )


def _env(url: str) -> dict[str, str]:
    """libpq's environment for ``url``: the password never appears on a command line."""
    c = credentials(url)
    env = {**os.environ, "PGHOST": str(c["host"]), "PGPORT": str(c["port"]), "PGUSER": c["user"],
           "PGDATABASE": c["database"]}
    if c["password"]:
        env["PGPASSWORD"] = c["password"]
    return env


async def _run(program: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(str(program), *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _failed(what: str, err: str) -> BackupFailed:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    reason = " ".join(lines[-3:])[:600] or "no output"
    return BackupFailed(f"{what}失败：{reason}", f"{what} failed: {reason}", details={"stderr": reason})


async def _server(owner_url: str) -> tuple[int, int, bool]:
    """The server's major version, the tables of the database, and whether the role reads past row-level security."""
    conn = await connect(owner_url)
    try:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
        tables = int(await conn.fetchval(_TABLES))
        bypass = bool(await conn.fetchval(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"))
    finally:
        await conn.close()
    return major, tables, bypass


async def backup(owner_url: str, file: Path, *, bin_dir: Path | None = None) -> Summary:
    """Write the whole database to ``file`` (pg_dump custom format, mode 0600: it holds personal data)."""
    major, tables, bypass = await _server(owner_url)
    database = credentials(owner_url)["database"]
    if not bypass:
        # pg_dump reads with row security off; a role that row-level security binds would get an error (FORCE
        # binds the tables' owner too), never a backup without the tenants' rows.
        user = credentials(owner_url)["user"]
        raise BackupFailed(
            f"角色 {user} 受行级安全约束，无法读出所有租户的数据：请用超级用户，"
            f"或授予 BYPASSRLS（ALTER ROLE {user} BYPASSRLS）",
            f"role {user} is bound by row-level security and cannot read every tenant's rows: use a superuser or "
            f"grant it BYPASSRLS (ALTER ROLE {user} BYPASSRLS)",
            field="DATABASE_OWNER_URL",
        )
    if tables == 0:
        raise InvalidInput.of([Problem("database", "empty", f"数据库 {database} 是空的：没有可备份的内容",
                                       f"database {database} is empty: there is nothing to back up")])
    tools = await find_tools(major, bin_dir)
    file, partial = _partial(file)
    partial.unlink(missing_ok=True)  # a crashed run's leftover
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # private before pg_dump writes a byte
    code, _, err = await _run(tools.dump, "--format=custom", "--file", str(partial), env=_env(owner_url))
    return Summary(file, database, tables, _finish(partial, file, ok=code == 0, err=err))


def _partial(file: Path) -> tuple[Path, Path]:
    file = file.resolve()
    return file, file.with_name(f".{file.name}.partial")  # FILE appears only whole


def _finish(partial: Path, file: Path, *, ok: bool, err: str) -> int:
    """Move a finished dump into place, readable by its owner only; its size."""
    if not ok:
        partial.unlink(missing_ok=True)
        raise _failed("pg_dump ", err)
    partial.chmod(0o600)
    os.replace(partial, file)
    return file.stat().st_size


async def restore(owner_url: str, app_url: str, file: Path, *, clean: bool = False,
                  bin_dir: Path | None = None) -> Summary:
    """Restore ``file`` into the (empty) database of ``owner_url`` in one transaction, then give the application
    role of ``app_url`` its rights. A database with tables is refused unless ``clean``, which empties it first."""
    database = credentials(owner_url)["database"]
    if not _is_file(file):
        raise InvalidInput.of([Problem("file", "not_found", f"找不到备份文件 {file}", f"no backup file {file}")])
    major, tables, _ = await _server(owner_url)
    tools = await find_tools(major, bin_dir)
    code, listing, err = await _run(tools.restore, "--list", str(file), env=_env(owner_url))
    if code != 0 or ARCHIVE_MARK not in listing:
        reason = " ".join(err.split())[:300]
        zh, en = (f"：{reason}", f": {reason}") if reason else ("", "")
        raise InvalidInput.of([Problem("file", "format", f"{file.name} 不是 civicgrid 的备份（pg_dump 自定义格式）{zh}",
                                       f"{file.name} is not a civicgrid backup (pg_dump custom format){en}")])
    if tables and not clean:
        raise Conflict(
            f"数据库 {database} 不是空的（{tables} 张表）：恢复只写入空数据库；要先清空它再恢复，请加 --clean",
            f"database {database} is not empty ({tables} tables): a restore writes into an empty database only; "
            "add --clean to empty it first",
            field="database",
            details={"database": database, "tables": tables},
        )
    if tables:
        # Nothing is dropped until the whole file has been read: its table of contents (--list) says nothing of
        # a file cut short in its data (an interrupted copy).
        code, _, err = await _run(tools.restore, "--file", os.devnull, str(file), env=_env(owner_url))
        if code != 0:
            raise _failed("pg_restore ", err)
        conn = await connect(owner_url)
        try:  # everything of the old schema goes, also tables a newer release added that the backup lacks
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()
    # Owners and grants are the target's: objects belong to the role restoring, the application role's rights
    # come from the code below.
    code, _, err = await _run(tools.restore, "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error",
                              "--dbname", database, str(file), env=_env(owner_url))
    if code != 0:
        raise _failed("pg_restore ", err)
    await ensure_app_role(owner_url, app_url)
    _, restored, _ = await _server(owner_url)
    return Summary(file, database, restored, _size(file))


def _is_file(file: Path) -> bool:
    return file.is_file()


def _size(file: Path) -> int:
    return file.stat().st_size
