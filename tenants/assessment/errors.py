"""Typed failures of the assessment, each with its code, field and Chinese and English message."""

from __future__ import annotations

from tenants.errors import Conflict


class PeriodPublished(Conflict):
    """Sheets may no longer be entered: the period's ratings are published (a correction is a new revision)."""

    code = "PERIOD_PUBLISHED"

    def __init__(self, period_key: str) -> None:
        super().__init__(
            f"{period_key} 的评级已发布，不能补录评分；如需更正请更正评分并以新版本重新评级",
            f"the ratings of {period_key} are published: no late entry; correct a sheet and revise the ratings",
            field="period",
            details={"period": period_key},
        )
