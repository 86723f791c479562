from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.jobruns.outcome import JobRunOutcome
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node
from tenants.jobruns import service
from tenants.jobruns import service as jobrun_service
from tenants.jobruns.models import JobRunStatus

JobRunStatusEnum = strawberry.enum(
    Enum("JobRunStatus", {s.name: s.value for s in JobRunStatus}), name="JobRunStatus"
)


@strawberry.type(name="JobRun", description="One run of a scheduled job for this tenant and a period.")
class JobRunType(Node):
    readable = staticmethod(jobrun_service.readable)
    kind: str
    period_key: str
    run_no: int
    status: JobRunStatusEnum  # type: ignore[valid-type]
    attempts: int
    counts: JSON = strawberry.field(
        description="What it did, counted by kind.", deprecation_reason="Use outcome (typed)."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(description="What it did, typed: its figures by key, and the facts beside them.")
    def outcome(self) -> JobRunOutcome:
        return JobRunOutcome.of(self.counts)


@strawberry.type
class JobRunQuery:
    @strawberry.field(description="This tenant's job runs, newest first (tenant administrators).")
    async def job_runs(
        self, info: Info, kind: str | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None
    ) -> Connection[JobRunType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: service.list_runs(access=access, kind=kind, window=w), JobRunType.of,
            first=first, after=after, last=last, before=before,
        )
