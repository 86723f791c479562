"""importTickets: historical tickets from a sheet (see tenants/tickets/importer.py)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.territory.imports import ImportFormat, ImportReportType, file_bytes
from tenants.tickets.importer import import_tickets


@strawberry.input
class ImportTicketsInput:
    format: ImportFormat  # type: ignore[valid-type]
    content: str = strawberry.field(description="CSV text, or the XLSX file in base64.")
    dry_run: bool = False
    skip_bad_rows: bool = strawberry.field(default=False, description="Import the good rows; report the bad ones.")


@strawberry.type
class TicketImportMutation:
    @strawberry.mutation(
        description="Import historical tickets (e.g. from the 12345 hotline) with their own times. All or nothing; "
        "the report lists every bad row; rows already imported (same external_ref) are left unchanged."
    )
    async def import_tickets(self, info: Info, input: ImportTicketsInput) -> ImportReportType:
        access = await info.context.access()
        fmt = input.format.value
        report = await import_tickets(
            access=access,
            data=file_bytes(fmt, input.content),
            fmt=fmt,
            actor=info.context.actor,
            dry_run=input.dry_run,
            skip_bad_rows=input.skip_bad_rows,
        )
        return ImportReportType.of(report)
