"""Typed form of a job run's JSON ``counts`` (``JobRun.outcome``; the JSON field stays, deprecated): the whole
numbers as key/count pairs (their keys depend on the kind: a table per row for data_volume), the other facts
typed."""

from __future__ import annotations

from typing import Any

import strawberry


@strawberry.type(description="One figure of a job run: what was counted, and how many.")
class JobRunCount:
    key: str = strawberry.field(
        description="What was counted (e.g. reminded, due_soon, statements; for data_volume a table name)."
    )
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="What a job run did: its figures, and the facts some kinds report beside them.")
class JobRunOutcome:
    counts: list[JobRunCount] = strawberry.field(description="Every whole-number figure, by key.")
    period: str | None = strawberry.field(
        description="assessment and settlement: the period the run looked at (null: the kind has none)."
    )
    enabled: bool | None = strawberry.field(
        description="bond_top_ups and settlement: whether the feature is on for the tenant (null: not reported)."
    )
    rated: bool | None = strawberry.field(description="assessment: whether the period was rated by this run.")
    settled: bool | None = strawberry.field(description="settlement: whether the period was settled by this run.")
    waiting_for: list[str] = strawberry.field(
        description="settlement: the rating periods not yet published that the settlement waits for."
    )

    @classmethod
    def of(cls, counts: Any) -> JobRunOutcome:
        c: dict[str, Any] = counts if isinstance(counts, dict) else {}

        def flag(key: str) -> bool | None:
            return c[key] if isinstance(c.get(key), bool) else None

        waiting = c.get("waiting_for")
        return cls(
            counts=[
                JobRunCount(key=k, count=v)
                for k, v in c.items()
                if isinstance(v, int) and not isinstance(v, bool)
            ],
            period=c["period"] if isinstance(c.get("period"), str) else None,
            enabled=flag("enabled"),
            rated=flag("rated"),
            settled=flag("settled"),
            waiting_for=[str(w) for w in waiting] if isinstance(waiting, list) else [],
        )
