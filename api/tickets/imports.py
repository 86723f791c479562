"""importTickets: historical tickets from a sheet (see tenants/tickets/importer.py)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.territory.imports import ImportReportType, ImportSheetInput, import_sheet
from tenants.tickets.importer import import_tickets


@strawberry.input
class ImportTicketsInput(ImportSheetInput):
    pass


@strawberry.type
class TicketImportMutation:
    @strawberry.mutation(
        description="Import historical tickets (e.g. from the 12345 hotline) with their own times. All or nothing; "
        "the report lists every bad row; rows already imported (same external_ref) are left unchanged."
    )
    async def import_tickets(self, info: Info, input: ImportTicketsInput) -> ImportReportType:
        return await import_sheet(info, input, import_tickets)
