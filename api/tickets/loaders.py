"""Tickets' DataLoaders for one request: a ticket's timeline and its partner tasks."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.tickets import partners
from tenants.tickets.models import PartnerTask, TicketEvent
from tenants.tickets.reads import events_of


class TicketLoaders(DomainLoaders):
    @property
    def events(self) -> DataLoader[int, list[TicketEvent]]:
        """A ticket's timeline."""

        async def load(ticket_ids: list[int]) -> list[list[TicketEvent]]:
            return grouped(await events_of(ticket_ids), "ticket_id", ticket_ids)

        return self.loader("events", load)

    @property
    def partner_tasks(self) -> DataLoader[int, list[PartnerTask]]:
        """The partner units' tasks on a ticket (怎么配合干)."""

        async def load(ticket_ids: list[int]) -> list[list[PartnerTask]]:
            rows = await partners.tasks_of(ticket_ids)
            return [[r for r in rows if r.ticket_id == i] for i in ticket_ids]

        return self.loader("partner_tasks", load)
