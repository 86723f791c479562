from __future__ import annotations

from tenants.errors import DomainError

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


class IllegalTransition(DomainError):
    """The action is not possible from the ticket's current state."""

    code = "ILLEGAL_TRANSITION"

    def __init__(self, action: str, state: str) -> None:
        super().__init__(
            f"工单当前状态为“{STATE_ZH.get(state, state)}”，不能{ACTION_ZH.get(action, action)}",
            f"cannot {action} a ticket that is {state}",
            field="state",
            details={"state": state, "action": action},
        )


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
