"""The File type: an uploaded image with its dimensions and signed, expiring links to it and its thumbnail."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.context import Info
from api.files.loaders import FileLoaders
from api.rows import Node, from_row
from tenants import clock
from tenants.files import access as file_access
from tenants.files import links
from tenants.files.models import Purpose as _Purpose
from tenants.files.models import StoredFile

FilePurpose = strawberry.enum(
    Enum("FilePurpose", {p.name: p.value for p in _Purpose}),
    name="FilePurpose",
    description="What a file is uploaded for; it can be attached only to that (a ticket's photo to a ticket).",
)


@strawberry.type(name="File", description="An uploaded image (JPEG, PNG, WebP; HEIC is stored as JPEG).")
class FileType(Node):
    readable = staticmethod(file_access.readable)
    content_type: str = strawberry.field(description="The type sniffed from the bytes: image/jpeg, image/png, ...")
    size: int = strawberry.field(description="Bytes stored (after location metadata was removed).")
    width: int = strawberry.field(description="Pixels, as displayed (EXIF orientation applied).")
    height: int = strawberry.field(description="Pixels, as displayed (EXIF orientation applied).")
    name: str = strawberry.field(description="The name the client gave the file (never used to decide its type).")
    purpose: FilePurpose  # type: ignore[valid-type]
    uploaded_by: str
    uploaded_at: datetime
    location_kept: bool = strawberry.field(
        description="Whether the photo kept its EXIF GPS location (configuration files.keep_location)."
    )
    attached: bool = strawberry.field(description="Whether the file is attached to a ticket, finding ...")
    tenant_pk: strawberry.Private[int]

    def _link(self, variant: str) -> str:
        return f"/files/{links.sign(self.tenant_pk, int(self.id), variant, now=clock.now())}"

    @strawberry.field(
        description="A signed link to the image, valid CIVICGRID_FILE_LINK_TTL_SECONDS (15 min); a path on this "
        "API's origin, usable without a token (an <img src>). Fetch the file again for a fresh link."
    )
    def url(self) -> str:
        return self._link("o")

    @strawberry.field(description="A signed link to the thumbnail (at most 320 px on its longer side), as url.")
    def thumbnail_url(self) -> str:
        return self._link("t")

    @classmethod
    def of(cls, f: StoredFile) -> FileType:
        return from_row(cls, f, attached=f.attached_kind is not None)


async def attached_files(info: Info, kind: str, owner_id: int) -> list[FileType]:
    """The files attached to a row the caller has read (batched per request)."""
    return [FileType.of(f) for f in await FileLoaders.of(info).attached(kind).load(owner_id)]


async def files_by_id(info: Info, ids: list[int]) -> list[FileType]:
    """Files a readable row recorded by id (a timeline event's), in that order."""
    rows = await FileLoaders.of(info).by_id.load_many(ids)
    return [FileType.of(f) for f in rows if f is not None]
