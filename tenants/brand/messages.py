"""What a community's workers read in their inbox about the tenant's decisions on their brand projects."""

from __future__ import annotations

from datetime import datetime

from tenants import inbox
from tenants.brand.errors import yuan
from tenants.brand.models import BrandProject
from tenants.inbox.holders import unit_staff
from tenants.tickets.models import UnitKind

KIND = "brand_project"

_TOLD = {
    "approve": ("品牌项目已批准", "您社区申报的品牌项目“{title}”已获批准，请按计划实施。"),
    "reject": ("品牌项目未获批准", "您社区申报的品牌项目“{title}”未获批准：{note}"),
    "accept": ("品牌项目验收通过", "品牌项目“{title}”年终验收通过，奖补 {amount} 元。"),
    "fail": ("品牌项目验收未通过", "品牌项目“{title}”年终验收未通过：{note}"),
    "pay": ("品牌项目奖补已拨付", "品牌项目“{title}”奖补 {amount} 元已拨付，凭证号 {reference}。"),
}


async def tell_community(project: BrandProject, step: str, at: datetime, note: str = "") -> None:
    """The community's workers (active posts) hear of each decision on their project."""
    title, body = _TOLD[step]
    recipients = await unit_staff(UnitKind.COMMUNITY, project.community_id, at)
    text = body.format(
        title=project.title,
        note=note,
        amount=yuan(project.amount_awarded_fen or 0),
        reference=project.payment_reference or "",
    )
    await inbox.send(to=recipients, kind=KIND, title=title, text=text, at=at)
