"""uploadFile (GraphQL multipart request spec) and file(id:)."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from api.context import Info
from api.files.types import FilePurpose, FileType
from api.ids import to_id
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.files import service
from tenants.files.models import Purpose


@strawberry.type
class FileQuery:
    @strawberry.field(
        description="One file you may read (your own upload, or attached to something you read), with fresh links. "
        "Role: files.read (every tenant role)."
    )
    async def file(self, info: Info, id: strawberry.ID) -> FileType:
        f = await service.get_readable(await info.context.access(), to_id(id, "id", "File"))
        if f is None:
            raise NotFound("文件不存在", "no such file", field="id")
        return FileType.of(f)


@strawberry.type
class FileMutation:
    @strawberry.mutation(
        description="Upload one image (a multipart request: graphql-multipart-request-spec) for a ticket, finding, "
        "meeting or activity; attach it by id (reportTicket's photoFileIds ...). The type is sniffed from the bytes "
        "(JPEG, PNG, WebP, HEIC), the size is at most CIVICGRID_MAX_UPLOAD_BYTES, the EXIF GPS location is removed "
        "unless the tenant's files.keep_location is on, and a thumbnail is made. Role: files.upload (every tenant "
        "role)."
    )
    async def upload_file(self, info: Info, file: Upload, purpose: FilePurpose) -> FileType:  # type: ignore[valid-type]
        if not hasattr(file, "read"):  # a string where the multipart request should map a file
            raise InvalidInput.of([Problem("file", "required", "请以 multipart 请求上传文件",
                                           "send the file as a multipart upload (graphql-multipart-request-spec)")])
        limit = info.context.settings.max_upload_bytes
        data = await file.read(limit + 1)
        f = await service.upload(
            caller=await info.context.access(),
            actor=info.context.actor,
            data=data,
            purpose=Purpose(purpose.value),
            name=getattr(file, "filename", None) or "",
        )
        return FileType.of(f)
