"""Where file bytes live, behind one interface: the local data directory (the embedded default) or an
S3-compatible bucket (MinIO, Alibaba OSS, Tencent COS, AWS S3) in production. Keys start with the tenant id."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any, Protocol

from tenants.settings import Settings, get_settings

KEY = re.compile(r"[0-9]{1,19}/[0-9a-z][0-9a-z./-]{0,150}")


def check_key(key: str) -> str:
    """Keys are ``<tenant_id>/...`` of a safe alphabet: never an absolute path or a way out of the directory."""
    if not KEY.fullmatch(key) or ".." in key or "//" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...
    async def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under ``root`` (``$CIVICGRID_HOME/files``): ``<root>/<tenant_id>/...``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """An S3-compatible bucket through boto3 (its blocking calls run in a thread). MinIO wants path-style
    addressing (the default); OSS and COS want virtual-hosted (``CIVICGRID_S3_ADDRESSING_STYLE=virtual``)."""

    def __init__(self, *, endpoint: str | None, bucket: str, access_key: str | None, secret_key: str | None,
                 region: str, addressing_style: str = "path") -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(signature_version="s3v4", s3={"addressing_style": addressing_style},
                          retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=check_key(key), Body=data,
                                ContentType=content_type)

    async def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        def read() -> bytes | None:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"].read()  # type: ignore[no-any-return]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=check_key(key))
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                    return False
                raise

        return await asyncio.to_thread(head)


def storage_for(settings: Settings) -> Storage:
    """The storage the settings name (``CIVICGRID_FILES_BACKEND``)."""
    if settings.files_backend == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("CIVICGRID_S3_BUCKET must be set with CIVICGRID_FILES_BACKEND=s3")
        return S3Storage(endpoint=settings.s3_endpoint, bucket=settings.s3_bucket,
                         access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                         region=settings.s3_region, addressing_style=settings.s3_addressing_style)
    return LocalStorage(settings.home / "files")


_made: dict[tuple[Any, ...], Storage] = {}


def storage() -> Storage:
    """This process's storage (one client per configuration, kept)."""
    s = get_settings()
    which = (s.files_backend, str(s.home), s.s3_endpoint, s.s3_bucket, s.s3_access_key, s.s3_region)
    if which not in _made:
        _made[which] = storage_for(s)
    return _made[which]
