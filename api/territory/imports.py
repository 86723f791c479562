from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from enum import Enum

import strawberry

from api.context import Info
from tenants.errors import InvalidInput, Problem
from tenants.territory.importer import ImportReport, import_territory

ImportFormat = strawberry.enum(Enum("ImportFormat", {"CSV": "csv", "XLSX": "xlsx"}), name="ImportFormat")


def file_bytes(fmt: str, content: str) -> bytes:
    """The uploaded sheet: CSV as text, XLSX in base64."""
    if fmt != "xlsx":
        return content.encode()
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput.of(
            [Problem("content", "bad_base64", "XLSX 内容须为 base64", "XLSX content must be base64")]
        ) from exc


@strawberry.input(description="A sheet to import: its format and content, and how to import it.")
class ImportSheetInput:
    format: ImportFormat  # type: ignore[valid-type]
    content: str = strawberry.field(description="CSV text, or the XLSX file in base64.")
    dry_run: bool = False
    skip_bad_rows: bool = strawberry.field(default=False, description="Import the good rows; report the bad ones.")


@strawberry.input
class ImportTerritoryInput(ImportSheetInput):
    pass


async def import_sheet(
    info: Info, input: ImportSheetInput, importer: Callable[..., Awaitable[ImportReport]]
) -> ImportReportType:
    """Run one importer (territory, tickets) on an uploaded sheet, as the caller."""
    fmt = input.format.value
    report = await importer(
        **await info.context.acting(),
        data=file_bytes(fmt, input.content),
        fmt=fmt,
        dry_run=input.dry_run,
        skip_bad_rows=input.skip_bad_rows,
    )
    return ImportReportType.of(report)


@strawberry.type
class ImportRowError:
    row: int
    column: str
    reason: str
    message_zh: str
    message_en: str


@strawberry.type
class ImportCount:
    kind: str
    count: int


@strawberry.type
class ImportReportType:
    dry_run: bool
    applied: bool = strawberry.field(description="False when this was a dry run or any row was bad.")
    rows: int
    skipped_rows: int
    created: list[ImportCount]
    updated: list[ImportCount]
    unchanged: list[ImportCount]
    errors: list[ImportRowError]

    @classmethod
    def of(cls, r: ImportReport) -> ImportReportType:
        def counts(d: dict[str, int]) -> list[ImportCount]:
            return [ImportCount(kind=k, count=v) for k, v in d.items()]

        return cls(
            dry_run=r.dry_run,
            applied=r.applied,
            rows=r.rows,
            skipped_rows=r.skipped_rows,
            created=counts(r.created),
            updated=counts(r.updated),
            unchanged=counts(r.unchanged),
            errors=[
                ImportRowError(
                    row=e.row, column=e.column, reason=e.reason, message_zh=e.message_zh, message_en=e.message_en
                )
                for e in r.errors
            ],
        )


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description="Import streets down to households, companies and contracts from a sheet. "
        "All or nothing; the report lists every bad row."
    )
    async def import_territory(self, info: Info, input: ImportTerritoryInput) -> ImportReportType:
        return await import_sheet(info, input, import_territory)
