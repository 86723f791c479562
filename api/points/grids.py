"""Grid scores, grid workers' pay statements and the leaderboards through GraphQL (issue 17 part D).

Reads go through ``tenants.points.grid_reads`` (what the caller reads); the services check permissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, Info
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from api.territory.types import GridType, _load
from tenants.paging import Page, Window
from tenants.points import grid_access, grid_reads, leaderboards, pay
from tenants.points.grid_models import GridScore, PayStatement, PayStatus
from tenants.records import rows_by_id

PayStatementStatus = strawberry.enum(
    Enum("PayStatementStatus", {s.name: s.value for s in PayStatus}), name="PayStatementStatus",
    description="Where a pay statement is: draft (recomputed by a re-run), approved (frozen), paid (handed to "
    "payroll), superseded (replaced by a revision).",
)
LeaderboardKind = strawberry.enum(
    Enum("LeaderboardKind", {k.name: k.value for k in leaderboards.BoardKind}), name="LeaderboardKind",
    description="What a leaderboard ranks: people by points earned, or grids, communities, streets by grid score.",
)


class GridLoaders(DomainLoaders):
    @property
    def person_names(self) -> DataLoader[int, str | None]:
        """Grid workers' names by person id (of statements the caller already reads)."""

        async def load(ids: list[int]) -> list[str | None]:
            return await grid_reads.person_names(ids)

        return self.loader("person_names", load)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@strawberry.type(name="GridScoreLine", description="One line of a grid's score: a weight and what it earned.")
class GridScoreLineType:
    code: str = strawberry.field(
        description="closure_rate, satisfaction_rate, on_time_rate, compound_rating or points."
    )
    title_zh: str = strawberry.field(description="The line's name in Chinese.")
    title_en: str = strawberry.field(description="The line's name in English.")
    weight: int = strawberry.field(description="The configured weight (the weights sum to 100).")
    applies: bool = strawberry.field(
        description="False when the grid had no data for it (no tickets, no rating, no household): its weight is "
        "then shared out over the other lines."
    )
    effective_weight: Decimal = strawberry.field(description="The weight after sharing out (0 when it does not apply).")
    numerator: int | None = strawberry.field(description="The count behind the rate (closed, satisfied, on time, "
                                             "points; for the rating the sum of scores in hundredths).")
    denominator: int | None = strawberry.field(description="What it is divided by (null: no data).")
    rate_percent: Decimal | None = strawberry.field(description="The rate in percent, 0-100 (null: no data).")
    contribution: Decimal = strawberry.field(description="Points of the score from this line; the lines add up to "
                                             "the score exactly.")

    @classmethod
    def of(cls, line: dict[str, Any]) -> GridScoreLineType:
        return cls(
            code=line["code"], title_zh=line["title_zh"], title_en=line["title_en"], weight=line["weight"],
            applies=line["applies"], effective_weight=Decimal(line["effective_weight"]),
            numerator=line["numerator"], denominator=line["denominator"], rate_percent=_dec(line["rate_percent"]),
            contribution=Decimal(line["contribution"]),
        )


@strawberry.type(name="GridScore", description="A grid's score for a month (0.00-100.00) with its breakdown.")
class GridScoreType(Node):
    readable = staticmethod(grid_access.readable_scores)
    period_key: str = strawberry.field(description="The month, 2026-01.")
    grid_id: strawberry.ID
    community_id: strawberry.ID
    street_id: strawberry.ID
    score: Decimal = strawberry.field(description="0.00-100.00: the sum of the lines' contributions.")
    computed_at: datetime
    computed_by: str
    config_version: int | None
    breakdown: strawberry.Private[dict[str, Any]]
    grid_pk: strawberry.Private[int]

    @strawberry.field(description="The lines, in the configuration's order.")
    def lines(self) -> list[GridScoreLineType]:
        return [GridScoreLineType.of(x) for x in self.breakdown.get("lines", [])]

    @strawberry.field(description="The rating snapshot used for the compound-rating line (period and revision).")
    def rating_snapshot(self) -> str | None:
        return self.breakdown.get("snapshot")  # type: ignore[no-any-return]

    @strawberry.field
    async def grid(self, info: Info) -> GridType | None:
        return await _load(info, "grid", self.grid_pk)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: GridScore) -> GridScoreType:  # type: ignore[override]
        return from_row(cls, row, score=Decimal(row.score), grid_pk=row.grid_id)


@strawberry.type(name="PayStatement", description="A grid worker's performance pay 绩效工资 for a month, in fen.")
class PayStatementType(Node):
    readable = staticmethod(grid_access.readable_statements)
    period_key: str = strawberry.field(description="The month, 2026-01.")
    person_id: strawberry.ID = strawberry.field(description="The grid worker.")
    grid_id: strawberry.ID = strawberry.field(description="The grid they are paid for (held longest in the month).")
    revision: int = strawberry.field(description="1, then one more for each revision.")
    status: PayStatementStatus  # type: ignore[valid-type]
    reason: str = strawberry.field(description="Why this revision was made (empty for the first).")
    supersedes_id: strawberry.ID | None = strawberry.field(description="The statement this revision replaced.")
    grid_score: Decimal = strawberry.field(description="The grid's score for the month.")
    band_min_score: int = strawberry.field(description="The lowest score of the band reached.")
    band_percent: int = strawberry.field(description="The band's percent of the base.")
    base_fen: Fen = strawberry.field(description="The configured base, in fen.")
    base_part_fen: Fen = strawberry.field(description="Base x band percent, rounded half up to the fen.")
    points_earned: int = strawberry.field(description="The worker's own points earned in the month.")
    points_rate_fen: Fen = strawberry.field(description="Fen per point.")
    points_part_fen: Fen = strawberry.field(description="Points x rate, capped.")
    total_fen: Fen = strawberry.field(description="Base part + points part, capped.")
    computed_at: datetime
    computed_by: str
    approved_at: datetime | None
    approved_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    payment_reference: str | None = strawberry.field(description="The payroll batch it went out with.")
    person_pk: strawberry.Private[int]
    grid_pk: strawberry.Private[int]

    @strawberry.field(description="The grid worker's name.")
    async def person_name(self, info: Info) -> str | None:
        return await GridLoaders.of(info).person_names.load(self.person_pk)

    @strawberry.field
    async def grid(self, info: Info) -> GridType | None:
        return await _load(info, "grid", self.grid_pk)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: PayStatement) -> PayStatementType:  # type: ignore[override]
        return from_row(
            cls, row, grid_score=Decimal(row.grid_score), base_fen=Fen(row.base_fen),
            base_part_fen=Fen(row.base_part_fen), points_rate_fen=Fen(row.points_rate_fen),
            points_part_fen=Fen(row.points_part_fen), total_fen=Fen(row.total_fen), person_pk=row.person_id,
            grid_pk=row.grid_id,
            supersedes_id=None if row.supersedes_id is None else strawberry.ID(str(row.supersedes_id)),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[PayStatementType | None]:
        ids = [int(i) for i in node_ids]
        rows = await rows_by_id(cls.readable(await info.context.access()), ids)
        return [cls.of(rows[i]) if i in rows else None for i in ids]


@strawberry.type(name="LeaderboardEntry", description="One place on a leaderboard.")
class LeaderboardEntryType:
    rank: int = strawberry.field(description="1 is first; ties share a rank (1, 1, 3).")
    subject_id: strawberry.ID = strawberry.field(description="The person, grid, community or street.")
    name: str = strawberry.field(description="Its name as published (a person's masked: 张*), your own in full.")
    points: int | None = strawberry.field(description="People: points earned in the period.")
    score: Decimal | None = strawberry.field(description="Grids, communities, streets: the mean grid score.")

    @classmethod
    def of(cls, s: leaderboards.Standing) -> LeaderboardEntryType:
        return cls(rank=s.rank, subject_id=strawberry.ID(str(s.id)), name=s.name, points=s.points, score=s.score)


@strawberry.type(name="Leaderboard", description="A leaderboard of the tenant for a month, quarter or year.")
class LeaderboardType:
    kind: LeaderboardKind  # type: ignore[valid-type]
    period: str = strawberry.field(description="2026-01, 2026Q1 or 2026.")
    entries: list[LeaderboardEntryType] = strawberry.field(description="The top places, best first.")
    me: LeaderboardEntryType | None = strawberry.field(
        description="Your own place among people (null for other kinds, or when you earned nothing in the period)."
    )


@strawberry.type(name="GridScoreRun", description="What computing a month did.")
class GridScoreRunType:
    month: str = strawberry.field(description="The month computed.")
    grid_count: int = strawberry.field(description="Grids scored.")
    statement_count: int = strawberry.field(description="Draft pay statements made or recomputed.")
    kept_count: int = strawberry.field(description="Pay statements left as they were (approved or paid).")


@strawberry.type
class GridQuery:
    @strawberry.field(description="Grid scores of a month you may read, by grid, with their breakdown.")
    async def grid_scores(
        self, info: Info, month: str, community_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[GridScoreType]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[GridScore]:
            return await grid_reads.scores(caller, month=month, community_id=cid, window=window)

        return await connection(info, fetch, GridScoreType.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Pay statements of a month you may read, by worker (current ones unless a status "
                      "is given).")
    async def pay_statements(
        self, info: Info, month: str, status: PayStatementStatus | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[PayStatementType]:
        caller = await info.context.access()
        wanted = status.value if status is not None else None

        async def fetch(window: Window) -> Page[PayStatement]:
            return await grid_reads.statements(caller, month=month, status=wanted, window=window)

        return await connection(info, fetch, PayStatementType.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="One pay statement.")
    async def pay_statement(self, info: Info, id: strawberry.ID) -> PayStatementType:
        s = await grid_reads.statement(await info.context.access(), to_id(id, "id", "PayStatement"))
        return PayStatementType.of(s)

    @strawberry.field(description="A leaderboard of the tenant: people by points earned, grids, communities or "
                      "streets by grid score, for a month (2026-01), quarter (2026Q1) or year (2026).")
    async def leaderboard(
        self, info: Info, kind: LeaderboardKind, period: str, first: int | None = None,  # type: ignore[valid-type]
    ) -> LeaderboardType:
        board = await leaderboards.leaderboard(
            access=await info.context.access(), kind=leaderboards.BoardKind(kind.value), period=period, first=first
        )
        return LeaderboardType(
            kind=kind, period=board.period, entries=[LeaderboardEntryType.of(s) for s in board.entries],
            me=None if board.me is None else LeaderboardEntryType.of(board.me),
        )


@strawberry.type
class GridMutation:
    @strawberry.mutation(description="Compute (or recompute) a month's grid scores and its grid workers' draft pay "
                         "statements (the month must have ended); approved and paid statements stay as they are.")
    async def compute_grid_scores(self, info: Info, month: str) -> GridScoreRunType:
        scores, statements = await pay.run_month(
            access=await info.context.access(), month=month, actor=info.context.actor
        )
        return GridScoreRunType(
            month=month, grid_count=scores.grids, statement_count=len(statements.written),
            kept_count=len(statements.kept),
        )

    @strawberry.mutation(description="Approve a draft pay statement: frozen from now on.")
    async def approve_pay_statement(self, info: Info, id: strawberry.ID) -> PayStatementType:
        s = await pay.approve(
            access=await info.context.access(), statement_id=to_id(id, "id", "PayStatement"), actor=info.context.actor
        )
        return PayStatementType.of(s)

    @strawberry.mutation(description="Correct an approved or paid statement: a new draft revision from the current "
                         "figures, with a reason; the old one is superseded.")
    async def revise_pay_statement(self, info: Info, id: strawberry.ID, reason: str) -> PayStatementType:
        s = await pay.revise(
            access=await info.context.access(), statement_id=to_id(id, "id", "PayStatement"), reason=reason,
            actor=info.context.actor,
        )
        return PayStatementType.of(s)

    @strawberry.mutation(description="Record that a month's approved statements went to payroll (the batch's "
                         "reference): they become paid. Export them first: /exports/pay/{month}.csv or .xlsx.")
    async def mark_pay_statements_paid(self, info: Info, month: str, reference: str) -> list[PayStatementType]:
        caller = await info.context.access()
        ids = await pay.mark_paid(access=caller, month=month, reference=reference, actor=info.context.actor)
        return [PayStatementType.of(s) for s in await grid_reads.statements_by_ids(caller, ids)]
