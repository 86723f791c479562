"""The ledger through GraphQL: an account's balance and history, and the check of balances against postings."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.ids import global_id_of
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants.ledger import service


@strawberry.type(name="LedgerJournal", description="One business event posted to the ledger.")
class JournalType(Node):
    readable = staticmethod(service.readable_journals)
    idempotency_key: str
    period: str
    reason: str
    source_kind: str
    source_id: strawberry.ID | None
    author: str
    posted_at: datetime
    reverses_id: strawberry.ID | None


@strawberry.type(name="LedgerEntry", description="A posting on an account (fen; positive in, negative out).")
class EntryType:
    id: strawberry.ID = strawberry.field(
        description="A global id, unique across the API; a posting is refetched through its account's history."
    )
    account: str
    amount_fen: Fen
    journal: JournalType

    @classmethod
    def of(cls, e: service.Entry) -> EntryType:
        j = e.journal
        return from_row(
            cls,
            e,
            id=strawberry.ID(global_id_of("LedgerEntry", e.posting_id)),
            journal=JournalType.of(j),
        )


@strawberry.type(name="LedgerMismatch")
class MismatchType:
    account: str | None = strawberry.field(description="An account whose kept balance differs from its postings.")
    journal_id: strawberry.ID | None = strawberry.field(description="A journal whose postings do not sum to zero.")
    kept_fen: Fen
    posted_fen: Fen


@strawberry.type(name="LedgerCheck")
class CheckType:
    ok: bool
    mismatches: list[MismatchType]


@strawberry.type
class LedgerQuery:
    @strawberry.field(description="An account's balance in fen (e.g. bond:12, subsidy_pool:3:2026).")
    async def ledger_balance(self, info: Info, account: str) -> Fen:
        return Fen(await service.read_balance(access=await info.context.access(), account=account))

    @strawberry.field(description="An account's postings, newest first, each with its journal.")
    async def ledger_entries(
        self, info: Info, account: str, first: First = None, after: After = None,
        last: Last = None, before: Before = None
    ) -> Connection[EntryType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: service.history(account, access=access, window=w), EntryType.of,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="Recompute every balance from the postings; ok when all agree and journals sum to 0.")
    async def ledger_check(self, info: Info) -> CheckType:
        found = await service.check(access=await info.context.access())
        return CheckType(
            ok=not found,
            mismatches=[
                MismatchType(
                    account=m.account,
                    journal_id=strawberry.ID(str(m.journal_id)) if m.journal_id is not None else None,
                    kept_fen=m.kept_fen,
                    posted_fen=m.posted_fen,
                )
                for m in found
            ],
        )
