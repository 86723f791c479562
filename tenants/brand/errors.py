"""Typed failures of brand projects, each with its code, field and Chinese and English message."""

from __future__ import annotations

from datetime import date

from tenants.errors import Conflict, NotEnabled, Noun

STATUS_ZH = {
    "declared": "已申报待审批",
    "approved": "已批准实施中",
    "rejected": "未获批准",
    "evaluated": "已中期评估",
    "accepted": "已验收通过",
    "failed": "验收未通过",
    "paid": "已拨付",
}

ACTION_ZH = {
    "approve": "批准",
    "reject": "驳回",
    "evaluate": "中期评估",
    "accept": "年终验收",
    "pay": "拨付",
}


# Brand projects refuse a step in the wrong status with IllegalTransition(BRAND_PROJECT, ...) (field "status").
BRAND_PROJECT = Noun("品牌项目", "brand project", STATUS_ZH, ACTION_ZH, field="status", state_key="status")


class BrandProjectsDisabled(NotEnabled):
    feature = "brand_projects"
    feature_zh, feature_en = "品牌项目", "brand projects"


class OutsideWindow(Conflict):
    """A step tried outside its time of year (tenant-local dates); the subclass names which."""

    def __init__(self, message_zh: str, message_en: str, opens: date, closes: date | None = None) -> None:
        super().__init__(
            message_zh,
            message_en,
            field="year",
            details={"opensOn": opens.isoformat(), "closesOn": closes.isoformat() if closes else None},
        )


class DeclarationClosed(OutsideWindow):
    code = "DECLARATION_CLOSED"

    def __init__(self, year: int, opens: date, closes: date) -> None:
        super().__init__(
            f"{year} 年度品牌项目申报时间为 {opens} 至 {closes}",
            f"declarations for {year} are accepted from {opens} through {closes}",
            opens,
            closes,
        )


class EvaluationNotOpen(OutsideWindow):
    code = "EVALUATION_NOT_OPEN"

    def __init__(self, year: int, opens: date) -> None:
        super().__init__(
            f"{year} 年度品牌项目中期评估自 {opens} 起进行",
            f"the mid-year evaluation for {year} opens on {opens}",
            opens,
        )


class AcceptanceNotOpen(OutsideWindow):
    code = "ACCEPTANCE_NOT_OPEN"

    def __init__(self, year: int, opens: date) -> None:
        super().__init__(
            f"{year} 年度品牌项目年终验收自 {opens} 起进行",
            f"the year-end acceptance for {year} opens on {opens}",
            opens,
        )


def yuan(fen: int) -> str:
    """Fen as yuan for people, exactly (no floats): 1234567 -> 12,345.67."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


class BrandCapExceeded(Conflict):
    """The award would take the year's cap below zero."""

    code = "BRAND_CAP_EXCEEDED"

    def __init__(self, year: int, remaining_fen: int, asked_fen: int) -> None:
        super().__init__(
            f"超出 {year} 年度品牌项目奖补上限：剩余额度 {remaining_fen} 分（{yuan(remaining_fen)} 元），"
            f"本次 {asked_fen} 分",
            f"exceeds the {year} brand-project cap: {remaining_fen} fen ({yuan(remaining_fen)} CNY) remain, "
            f"{asked_fen} fen asked",
            field="amountAwardedFen",
            details={"remainingFen": remaining_fen, "amountFen": asked_fen, "year": year},
        )
