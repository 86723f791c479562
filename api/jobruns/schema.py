from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.jobruns.outcome import JobRunOutcome
from api.pagination import Connection, paginate
from tenants.jobruns import service
from tenants.jobruns.models import JobRun, JobRunStatus

JobRunStatusEnum = strawberry.enum(
    Enum("JobRunStatus", {s.name: s.value for s in JobRunStatus}), name="JobRunStatus"
)


@strawberry.type(name="JobRun", description="One run of a scheduled job for this tenant and a period.")
class JobRunType:
    id: strawberry.ID
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

    @classmethod
    def of(cls, r: JobRun) -> JobRunType:
        return cls(
            id=strawberry.ID(str(r.id)),
            kind=r.kind,
            period_key=r.period_key,
            run_no=r.run_no,
            status=JobRunStatusEnum(r.status.value),
            attempts=r.attempts,
            counts=r.counts,
            error=r.error,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
        )


@strawberry.type
class JobRunQuery:
    @strawberry.field(description="This tenant's job runs, newest first (tenant administrators).")
    async def job_runs(
        self, info: Info, kind: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[JobRunType]:
        access = await info.context.access()
        return await paginate(
            first=first,
            after=after,
            key=lambda r: (r.created_at, r.id),
            types=(datetime, int),
            fetch=lambda k, n: service.list_runs(access=access, kind=kind, after=k, limit=n),
            to_node=JobRunType.of,
        )
