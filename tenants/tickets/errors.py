"""States and actions of tickets as people read them."""

from __future__ import annotations

from tenants.errors import Noun

STATE_ZH = {
    "reported": "待审核派单",
    "dispatched": "已派单待受理",
    "transferred": "已转办待受理",
    "accepted": "办理中",
    "reopened": "已重新办理",
    "resolved": "已办结待评价",
    "rated": "已评价",
    "closed": "已关闭",
    "rejected": "已驳回",
    "pending": "待受理",  # a partner task
    "completed": "已完成",  # a partner task
}


ACTION_ZH = {
    "dispatch": "派单",
    "reject": "驳回",
    "accept": "受理",
    "transfer": "转办",
    "resolve": "办结",
    "rate": "评价",
    "escalate": "提级督办",
    "accept_partner_task": "受理协办任务",
    "complete_partner_task": "完成协办任务",
}

# Tickets and their partner tasks refuse an action in the wrong state with IllegalTransition(TICKET, ...).
TICKET = Noun("工单", "ticket", STATE_ZH, ACTION_ZH)
