"""Platform-level tenant management. Every function here takes the explicit platform path."""

from __future__ import annotations

import json
import re
from datetime import date
from zoneinfo import ZoneInfo, available_timezones

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.models import TenantModel
from tenants.paging import Page, Window, by_id
from tenants.permissions import Caller, allows
from tenants.scope import on_commit, platform_transaction
from tenants.tenancy import cache
from tenants.tenancy.models import Tenant

# The first configuration version of a tenant covers every earlier period too.
BEGINNING = date(2000, 1, 1)
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}\Z")
# A tenant without a city above it needs a whole document from its first day (every service reads it): without
# a preset it starts from 张家口's, the reference model of the product, and changes it from there.
DEFAULT_PRESET = "zhangjiakou"


def _validate(*, slug: str, name: str, timezone: str) -> list[Problem]:
    problems = []
    if not SLUG_RE.match(slug):
        problems.append(
            Problem(
                "slug",
                "format",
                "标识须为 2-63 位小写字母、数字或连字符，并以字母开头",
                "slug must be 2-63 lowercase letters, digits or hyphens, starting with a letter",
            )
        )
    if not name.strip():
        problems.append(Problem("name", "required", "名称不能为空", "name must not be empty"))
    elif len(name) > 200:
        problems.append(Problem("name", "too_long", "名称不能超过 200 字", "name must be at most 200 characters"))
    if timezone not in available_timezones():
        problems.append(Problem("timezone", "unknown", f"未知时区 {timezone}", f"unknown time zone {timezone}"))
    return problems


async def create_tenant(
    *,
    slug: str,
    name: str,
    parent_slug: str | None = None,
    timezone: str = "Asia/Shanghai",
    preset: str | None = None,
    actor: str = "platform",
) -> Tenant:
    """Create a tenant; a district names its city as ``parent_slug``. With ``preset`` its first configuration
    version is the preset's: a district keeps only its own overrides (it inherits the rest from its city), a
    tenant without a parent gets the preset's whole merged document (``DEFAULT_PRESET``'s when none is named; a
    district without one inherits everything from its city)."""
    slug = slug.strip()
    if preset is None and parent_slug is None:
        preset = DEFAULT_PRESET
    problems = _validate(slug=slug, name=name, timezone=timezone)
    first_config = _preset_config(preset, has_parent=parent_slug is not None, problems=problems)
    async with platform_transaction() as conn:
        parent = None
        if parent_slug is not None:
            parent = await Tenant.get_or_none(slug=parent_slug)
            if parent is None:
                problems.append(
                    Problem(
                        "parentSlug",
                        "not_found",
                        f"上级租户 {parent_slug} 不存在",
                        f"parent tenant {parent_slug} does not exist",
                    )
                )
            elif parent.parent_id is not None:
                problems.append(
                    Problem(
                        "parentSlug",
                        "too_deep",
                        "上级租户本身已有上级，只支持市-区两级",
                        "the parent already has a parent; only city -> district nesting is supported",
                    )
                )
        if problems:
            raise InvalidInput.of(problems)
        if await Tenant.exists(slug=slug):
            raise Conflict(f"租户标识 {slug} 已被使用", f"tenant slug {slug} is taken", field="slug")
        try:
            tenant = await Tenant.create(slug=slug, name=name.strip(), parent=parent, timezone=timezone)
        except IntegrityError as exc:  # a concurrent create of the same slug
            raise Conflict(f"租户标识 {slug} 已被使用", f"tenant slug {slug} is taken", field="slug") from exc
        if first_config is not None:
            from tenants.config.upgrade import SCHEMA_VERSION  # tenancy and config read each other

            at = clock.now()
            # The one tenant row the platform path may write: version 1 (see migration 0005's policy).
            await conn.execute_query(
                "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment,"
                " created_at, schema_version) VALUES ($1, 1, $2::jsonb, $3, $4, $5, $6, $7)",
                [tenant.id, json.dumps(first_config, ensure_ascii=False), BEGINNING, actor, f"preset {preset}", at,
                 SCHEMA_VERSION],
            )
            await conn.execute_query(
                "INSERT INTO audit_entry (tenant_id, actor, action, target_type, target_id, details, at)"
                " VALUES ($1, $2, 'config.seed', 'config_version', '1', $3::jsonb, $4)",
                [tenant.id, actor, json.dumps({"preset": preset}, ensure_ascii=False), at],
            )
    on_commit(lambda: cache.remember(tenant))  # not before: a rolled-back tenant must not be kept
    return tenant


def _preset_config(preset: str | None, *, has_parent: bool, problems: list[Problem]) -> dict | None:
    """The first configuration of a new tenant from ``preset``, checked against the preset's own chain."""
    if preset is None:
        return None
    from tenants.config.merge import effective
    from tenants.presets import UnknownPreset, load_preset, preset_chain, preset_document

    try:
        chain = preset_chain(preset)
    except UnknownPreset as exc:
        problems.append(Problem("preset", "unknown", exc.message_zh, exc.message_en))
        return None
    try:
        effective([(p.name, p.overrides) for p in chain])
    except InvalidInput as exc:  # a shipped preset is tested; a broken one must still not be stored
        problems.extend(exc.problems)
        return None
    return load_preset(preset).overrides if has_parent else preset_document(preset)


async def set_tenant_active(*, slug: str, active: bool) -> Tenant:
    try:
        async with platform_transaction():
            tenant = await Tenant.get_or_none(slug=slug)
            if tenant is None:
                raise NotFound(f"租户 {slug} 不存在", f"tenant {slug} does not exist", field="slug")
            tenant.is_active = active
            await tenant.save(update_fields=["is_active", "updated_at"])
    finally:  # now, and again once the operation's transaction commits (a request in between read the old row)
        cache.forget(slug)
        on_commit(lambda: cache.forget(slug))
    return tenant


async def get_tenant_by_slug(slug: str) -> Tenant | None:
    async with platform_transaction():
        return await Tenant.get_or_none(slug=slug)


async def active_tenants() -> list[Tenant]:
    async with platform_transaction():
        return await Tenant.filter(is_active=True).order_by("id")


async def list_tenants(*, window: Window) -> Page[Tenant]:
    """A window of the tenants by id."""
    async with platform_transaction():
        return await by_id(Tenant.all(), window)


async def visible_tenants(caller: Caller, own_tenant_id: int | None, ids: list[int]) -> list[Tenant]:
    """Of ``ids``, the tenants a caller may read: any for whoever manages tenants (the platform path), else only
    the caller's own."""
    return await get_tenants_by_ids(ids if allows(caller, "tenants.manage") else [i for i in ids if i == own_tenant_id])


async def get_tenants_by_ids(ids: list[int]) -> list[Tenant]:
    """Tenants visible in the current scope (its own row, or all on the platform path)."""
    return await Tenant.filter(id__in=ids)


def tenant_models() -> list[type[TenantModel]]:
    """Every registered tenant-owned model."""
    return [
        m for app in Tortoise.apps.values() for m in app.values() if issubclass(m, TenantModel) and not m._meta.abstract
    ]


def tenant_zone(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.timezone)


async def current_zone() -> ZoneInfo:
    """The time zone of the tenant in scope (periods, deadlines and local dates live in it); read once per
    process (a tenant's time zone does not change)."""
    from tenants.scope import current_tenant_id

    return (await cache.by_id(current_tenant_id())).zone
