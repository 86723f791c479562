"""Create, rename, move and list territory nodes within the caller's scope."""

from __future__ import annotations

import re
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, Problem
from tenants.idempotency import idempotent
from tenants.paging import Page, Window, by_id
from tenants.permissions import require
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, get_writable, readable, readable_companies, readable_units
from tenants.territory.models import LEVEL_NAMES, MODEL_BY_LEVEL, Area, ancestor_levels, parent_level
from tenants.territory.parties import PropertyCompany, Unit

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
EXTRA_FIELDS = {"compound": {"address"}}


def check_code_and_name(code: str | None, name: str | None) -> list[Problem]:
    problems = []
    if code is not None and not CODE_RE.match(code):
        problems.append(
            Problem(
                "code",
                "format",
                "编码须为 1-64 位字母、数字、点、下划线或连字符",
                "code must be 1-64 letters, digits, dots, underscores or hyphens",
            )
        )
    if name is not None:
        if not name.strip():
            problems.append(Problem("name", "required", "名称不能为空", "name must not be empty"))
        elif len(name) > 200:
            problems.append(Problem("name", "too_long", "名称不能超过 200 字", "name must be at most 200 characters"))
    return problems


def _duplicate(level: str, code: str) -> Conflict:
    return Conflict(f"同一上级下已有编码 {code}", f"code {code} is already used under the same parent", field="code")


async def _ancestor_ids(level: str, parent: Area | None) -> dict[str, int]:
    if parent is None:
        return {}
    plevel = parent_level(level)
    assert plevel is not None
    ids = {f"{a}_id": getattr(parent, f"{a}_id") for a in ancestor_levels(plevel)}
    ids[f"{plevel}_id"] = parent.id
    return ids


@idempotent(lambda level, **_: f"createArea:{level}", lambda level, **_: MODEL_BY_LEVEL[level])
async def create_area(
    level: str, *, access: Access, actor: str, code: str, name: str, parent_id: int | None, **extra: Any
) -> Area:
    plevel = parent_level(level)
    problems = check_code_and_name(code, name)
    if plevel is not None and parent_id is None:
        problems.append(Problem("parentId", "required", "必须指定上级", f"parentId (the {plevel}) is required"))
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if plevel is None:
            require(access, "territory.create_street")
            parent = None
        else:
            assert parent_id is not None
            parent = await get_writable(plevel, parent_id, access, include_own=True, field="parentId")
        model = MODEL_BY_LEVEL[level]
        if await model.exists(code=code, **(await _parent_key(level, parent))):  # type: ignore[arg-type]
            raise _duplicate(level, code)
        try:
            node = await model.create(code=code, name=name.strip(), **(await _ancestor_ids(level, parent)), **extra)  # type: ignore[arg-type]
        except IntegrityError as exc:
            raise _duplicate(level, code) from exc
        await audit.record(
            actor=actor,
            action=f"{level}.create",
            target_type=level,
            target_id=node.id,
            details={"code": code, "name": node.name, "parentId": parent_id},
        )
        return node


async def _parent_key(level: str, parent: Area | None) -> dict[str, int]:
    plevel = parent_level(level)
    return {f"{plevel}_id": parent.id} if plevel and parent is not None else {}


async def update_area(
    level: str,
    area_id: int,
    *,
    access: Access,
    actor: str,
    code: str | None = None,
    name: str | None = None,
    **extra: Any,
) -> Area:
    """Rename or re-code a node; its id, and so every reference to it, stays the same."""
    problems = check_code_and_name(code, name)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        node = await get_writable(level, area_id, access, field="id")
        before = {"code": node.code, "name": node.name}
        if code is not None and code != node.code:
            plevel = parent_level(level)
            siblings = MODEL_BY_LEVEL[level].filter(code=code).exclude(id=node.id)
            if plevel:
                siblings = siblings.filter(**{f"{plevel}_id": getattr(node, f"{plevel}_id")})
            if await siblings.exists():
                raise _duplicate(level, code)
            node.code = code
        if name is not None:
            node.name = name.strip()
        for key, value in extra.items():
            if value is not None and key in EXTRA_FIELDS.get(level, set()):
                setattr(node, key, value)
        try:
            await node.save()
        except IntegrityError as exc:
            raise _duplicate(level, node.code) from exc
        await audit.record(
            actor=actor,
            action=f"{level}.update",
            target_type=level,
            target_id=node.id,
            details={"before": before, "after": {"code": node.code, "name": node.name}},
        )
        return node


async def move_area(level: str, area_id: int, *, access: Access, actor: str, new_parent_id: int) -> Area:
    """Move a node (and its whole subtree) under another parent; ids stay, ancestor columns follow."""
    plevel = parent_level(level)
    if plevel is None:
        raise InvalidInput.of(
            [Problem("level", "not_movable", "街道没有上级，不能移动", "streets have no parent to move to")]
        )
    async with scoped_transaction() as conn:
        node = await get_writable(level, area_id, access, field="id")
        new_parent = await get_writable(plevel, new_parent_id, access, include_own=True, field="newParentId")
        if (
            await MODEL_BY_LEVEL[level]
            .filter(code=node.code, **{f"{plevel}_id": new_parent.id})
            .exclude(id=node.id)
            .exists()
        ):
            raise _duplicate(level, node.code)
        old_parent_id = getattr(node, f"{plevel}_id")
        new_ids = await _ancestor_ids(level, new_parent)
        for key, value in new_ids.items():
            setattr(node, key, value)
        await node.save()
        # Every descendant level carries this node's ancestors too: one set-based UPDATE per level.
        assignments = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(new_ids))
        for lower in LEVEL_NAMES[LEVEL_NAMES.index(level) + 1 :]:
            await conn.execute_query(
                f"UPDATE {MODEL_BY_LEVEL[lower]._meta.db_table} SET {assignments}, updated_at = now()"
                f" WHERE tenant_id = $1 AND {level}_id = ${len(new_ids) + 2}",
                [node.tenant_id, *new_ids.values(), node.id],
            )
        await audit.record(
            actor=actor,
            action=f"{level}.move",
            target_type=level,
            target_id=node.id,
            details={"from": old_parent_id, "to": new_parent.id},
        )
        return node


async def list_areas(
    level: str,
    *,
    access: Access,
    parent_id: int | None,
    within: dict[str, int] | None,
    window: Window,
    search: str | None = None,
) -> Page[Area]:
    """A window of the nodes of one level in scope, by id; ``within`` filters by higher levels only. Households
    are not counted (a city has hundreds of thousands)."""
    qs = areas_query(level, access=access, parent_id=parent_id, within=within, search=search)
    return await by_id(qs, window, countable=level != "household")


def areas_query(
    level: str, *, access: Access, parent_id: int | None, within: dict[str, int] | None, search: str | None
) -> QuerySet[Area]:
    """The nodes of one level in scope, filtered as ``list_areas`` filters them."""
    depth = LEVEL_NAMES.index(level)
    problems = [
        Problem(
            f"{key}Id",
            "level",
            f"{level} 不能按同级或下级的 {key} 筛选",
            f"{level} nodes are filtered by a higher level, not by {key}",
        )
        for key in within or {}
        if LEVEL_NAMES.index(key) >= depth
    ]
    if problems:
        raise InvalidInput.of(problems)
    qs = readable(access, level)
    plevel = parent_level(level)
    if parent_id is not None and plevel:
        qs = qs.filter(**{f"{plevel}_id": parent_id})
    for key, value in (within or {}).items():
        qs = qs.filter(**{f"{key}_id": value})
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return qs


async def areas_by_ids(level: str, ids: list[int], access: Access) -> list[Area]:
    return await readable(access, level).filter(id__in=ids)


async def companies_by_ids(ids: list[int], access: Access) -> list[PropertyCompany]:
    """Property companies among ``ids`` that the caller reads (one statement, for a DataLoader)."""
    return await readable_companies(access).filter(id__in=ids)


async def units_by_ids(ids: list[int], access: Access) -> list[Unit]:
    """Departments and offices among ``ids`` (one statement, for a DataLoader)."""
    return await readable_units(access).filter(id__in=ids)
