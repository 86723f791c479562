"""The transition helper every lifecycle runs through (tenants/workflow.py) and the tables that use it."""

from __future__ import annotations

from enum import Enum
from types import SimpleNamespace

import pytest

from tenants.brand.service import TRANSITIONS as BRAND
from tenants.errors import Forbidden, IllegalTransition, Noun
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.tickets.access import check
from tenants.tickets.models import TicketState, UnitKind
from tenants.tickets.workflow import TRANSITIONS as TICKETS
from tenants.workflow import Transition, transition


class Light(Enum):
    RED = "red"
    GREEN = "green"


LAMP = Noun("信号灯", "lamp", {"red": "红灯"}, {"go": "通行"})


async def _effect(row: dict, *, by: str) -> str:
    row["ran"] = by
    return "done"


GO = Transition("go", {Light.GREEN}, "lamps.go", _effect)


async def test_permission_then_state_then_effect():
    seen: list[str] = []

    async def allow(permission: str, row: dict) -> None:
        seen.append(permission)

    row: dict = {}
    assert await transition(GO, LAMP, row, state=Light.GREEN, allow=allow, by="u-1") == "done"
    assert (seen, row) == (["lamps.go"], {"ran": "u-1"})

    with pytest.raises(IllegalTransition) as err:
        await transition(GO, LAMP, row := {}, state=Light.RED, allow=allow, by="u-1")
    assert row == {}  # the effect never ran
    assert (err.value.code, err.value.field, err.value.details) == (
        "ILLEGAL_TRANSITION", "state", {"state": "red", "action": "go"}
    )
    assert err.value.message_zh == "信号灯当前状态为“红灯”，不能通行"
    assert err.value.message_en == "cannot go a lamp that is red"


async def test_a_refused_permission_wins_over_a_wrong_state():
    async def refuse(permission: str, row: dict) -> None:
        raise Forbidden("无权", "no")

    with pytest.raises(Forbidden):
        await transition(GO, LAMP, {}, state=Light.RED, allow=refuse, by="u-1")


def test_a_noun_may_keep_the_code_it_shipped_with():
    finding = Noun("问题", "finding", field="id", code="CONFLICT")
    err = IllegalTransition(finding, "resolve", "resolved")
    assert (err.code, err.field, err.extensions()["code"]) == ("CONFLICT", "id", "CONFLICT")


def test_each_table_names_its_permissions_by_domain():
    assert all(t.permission.startswith("tickets.") for t in TICKETS.values())
    assert all(t.permission.startswith("brand.") for t in BRAND.values())


def test_every_ticket_permission_has_a_rule():
    admin = Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="admin")
    ticket = SimpleNamespace(
        community_id=1, street_id=1, assignee_kind=UnitKind.COMMUNITY, assignee_id=1, reporter_user_id="res-1",
        entered_by="admin", state=TicketState.RESOLVED,
    )
    for name, step in TICKETS.items():
        if name == "rate":  # the reporter's own
            check(admin, step.permission, ticket, actor="res-1")  # type: ignore[arg-type]
            with pytest.raises(Forbidden):
                check(admin, step.permission, ticket)  # type: ignore[arg-type]
        else:
            check(admin, step.permission, ticket)  # type: ignore[arg-type]
