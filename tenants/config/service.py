"""Stored configuration versions: change, read in force on a day (with inheritance), list, diff, audit."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from tenants import clock, db
from tenants.audit import service as audit
from tenants.config import watch
from tenants.config.document import ConfigDocument
from tenants.config.merge import check_overrides, deep_merge, diff, effective, flatten
from tenants.config.models import ConfigVersion
from tenants.config.upgrade import check_readable, upgrade_document
from tenants.errors import Conflict, InvalidInput, NotFound, Problem, text_problems
from tenants.paging import Order, Page, Window, page
from tenants.permissions import Caller, require
from tenants.scope import current_tenant_id, on_commit, savepoint, scoped_transaction
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.models import Tenant


@dataclass(frozen=True)
class Effective:
    document: ConfigDocument
    values: dict[str, Any]  # dotted leaf path -> value
    sources: dict[str, str]  # dotted leaf path -> slug of the tenant that set it ("default" when nobody did)
    versions: dict[str, int | None]  # slug -> version number in force (None: that tenant has no version yet)
    on: date


async def _in_force(tenant_id: int, on: date) -> ConfigVersion | None:
    # TenantModel's manager pins reads to the tenant in scope; reading the parent's versions (inheritance) takes a
    # plain queryset, which row-level security still limits to this tenant and its parent.
    return (
        await QuerySet(ConfigVersion)
        .filter(tenant_id=tenant_id, effective_from__lte=on, withdrawn_at__isnull=True)
        .order_by("-version_no")
        .first()
    )


async def read_effective_config(*, access: Caller, on: date | None = None) -> Effective:
    """``effective_config`` for a caller who may read the configuration."""
    require(access, "config.read")
    return await effective_config(on)


# The merged, validated configuration per tenant, day and version chain: building it (pydantic, merge,
# cross-checks) cost more than a quarter of a ticket report's CPU. A chain is named by each version's
# (tenant, number, xmin): a new version, a withdrawal or a new day in force is a new key, in every process,
# and ids reused after a TRUNCATE (tests) come with a new xmin.
_MEMO: OrderedDict[tuple, Effective] = OrderedDict()
_MEMO_SIZE = 512
_CHAIN_SQL = (
    "SELECT DISTINCT ON (tenant_id) tenant_id, version_no, xmin::text AS x, schema_version FROM config_version"
    " WHERE tenant_id = ANY($1::bigint[]) AND effective_from <= $2 AND withdrawn_at IS NULL"
    " ORDER BY tenant_id, version_no DESC"
)


def forget_effective() -> None:
    """Drop what this transaction memoised (it has just recorded or withdrawn a version)."""
    if (memo := db.transaction_memo()) is not None:
        memo.pop("effective_config", None)
        memo["config_written"] = True  # what this process remembers does not know it until the commit's notice
    tenant = str(current_tenant_id())
    on_commit(lambda: watch.WATCH.forget(tenant))  # this process at once; the others by the commit's notice


async def effective_config(on: date | None = None, *, own_override: dict | None = None) -> Effective:
    """The configuration in force on ``on`` (tenant-local today by default), merged down the chain. Read once
    per transaction (one query for the chain's versions), built once per process for each chain."""
    async with scoped_transaction() as conn:
        day = on or await clock.today()
        me = await tenant_cache.by_id(current_tenant_id())
        tenants = [await tenant_cache.by_id(me.parent_id), me] if me.parent_id is not None else [me]
        if own_override is not None:  # a change being checked: never memoised
            return await _build(tenants, day, own_override)
        per_tx = db.transaction_memo()
        in_tx = per_tx.setdefault("effective_config", {}) if per_tx is not None else {}
        if (found := in_tx.get(day)) is not None:
            return found  # type: ignore[no-any-return]
        ids = [t.id for t in tenants]
        chain = None if per_tx and per_tx.get("config_written") else await watch.in_force(conn, ids, day)
        if chain is None:  # not listening, or this transaction changed a version: read what is in force
            _, rows = await conn.execute_query(_CHAIN_SQL, [ids, day])
            chain = [(r["tenant_id"], r["version_no"], r["x"], r["schema_version"]) for r in rows]
        for _, _, _, schema_version in chain:
            check_readable(schema_version)  # before the memo: a newer release's document is never read
        key = (me.id, day, tuple(sorted(c[:3] for c in chain)))
        if (found := _MEMO.get(key)) is None:
            found = _MEMO[key] = await _build(tenants, day, None, {t: no for t, no, _, _ in chain})
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
        in_tx[day] = found
        return found


async def _build(tenants: list[tenant_cache.TenantInfo], day: date, own_override: dict | None,
                 chosen: dict[int, int] | None = None) -> Effective:
    """The merged document of ``tenants`` on ``day`` (with the versions ``chosen`` for the memo's key)."""
    chain: list[tuple[str, dict]] = []
    versions: dict[str, int | None] = {}
    for t in tenants:
        if chosen is None:
            version = await _in_force(t.id, day)
        else:
            version = None if t.id not in chosen else await QuerySet(ConfigVersion).get(
                tenant_id=t.id, version_no=chosen[t.id])
        versions[t.slug] = version.version_no if version else None
        overrides = version.overrides if version else {}
        if version is not None:  # a row an older release wrote after the upgrade migration: upgraded here
            overrides, _ = upgrade_document(overrides, version.schema_version, root=t.parent_id is None,
                                            parents=[chain[0][1]] if chain else None)
        if own_override is not None and t.id == current_tenant_id():
            overrides = own_override
        chain.append((t.slug, overrides))
    document, provenance = effective(chain)
    values = flatten(document.model_dump(mode="json"))
    sources = {path: provenance.get(path, "default") for path in values}
    return Effective(document, values, sources, versions, day)


async def current_overrides(*, besides: int | None = None) -> tuple[ConfigVersion | None, dict]:
    """The latest version not withdrawn (leaving out version ``besides``) and its overrides."""
    qs = ConfigVersion.filter(withdrawn_at__isnull=True)
    if besides is not None:
        qs = qs.exclude(version_no=besides)
    latest = await qs.order_by("-version_no").first()
    if latest is None:
        return None, {}
    # A change builds on this document: refused when a newer release stored it, upgraded when an older one did.
    me = await tenant_cache.by_id(current_tenant_id())
    own, _ = upgrade_document(latest.overrides, latest.schema_version, root=me.parent_id is None)
    return latest, own


async def change_config(
    *,
    access: Caller,
    actor: str,
    set_values: dict | None = None,
    unset: list[str] | None = None,
    replace: dict | None = None,
    effective_from: date | None = None,
    comment: str = "",
    based_on: int | None = None,
    replaces: int | None = None,
) -> ConfigVersion:
    """Record a new version of this tenant's own configuration.

    Either ``replace`` the own document whole, or deep-merge ``set_values`` into the latest one and drop the
    ``unset`` paths (so they are inherited again). The new version applies from ``effective_from``: tenant-local
    today by default, never in the past (so a past period keeps the version that was in force then) and never
    before the latest version's date (versions follow each other in time). Nothing is saved unless the result
    validates: on its own date, on every later date of the parent's versions, and, for a city, in each district
    that inherits from it. ``based_on`` (a version number, 0 for none) refuses the change when another version
    was recorded since the caller read the configuration (the CLI shows a diff before it imports).
    ``replaces`` names a scheduled version (not yet in force, the latest) that this one replaces: it is withdrawn
    in the same transaction, and ``set_values``/``unset`` apply to it rather than to the version before it.
    """
    require(access, "config.change")
    problems: list[Problem] = []
    async with savepoint():
        today = await clock.today()
        latest, own = await current_overrides()
        if based_on is not None and based_on != (latest.version_no if latest else 0):
            raise Conflict("配置刚被他人修改，请刷新后重试", "the configuration changed meanwhile; reload and retry",
                           field="document")
        replaced = None
        if replaces is not None:
            replaced, found = await _withdrawable(replaces, today, field="replaces")
            problems += found
            latest, _ = await current_overrides(besides=replaces)
            own = replaced.overrides
        shape = [
            Problem(name, "wrong_type", "须为表（键值映射）", "must be a table (mapping)")
            for name, value in (("replace", replace), ("set", set_values))
            if value is not None and not isinstance(value, dict)
        ] or unstorable(replace if replace is not None else set_values, "") + unstorable(
            unset, "unset") + unstorable(comment, "comment")
        if shape:  # not a document, or text that cannot be stored (nor shown back): nothing else can be checked
            raise InvalidInput.of(problems + shape)
        if replace is not None:
            new_own = replace
        else:
            new_own = deep_merge(own, set_values or {})
            for path in unset or []:
                if not _drop(new_own, path.split(".")):
                    problems.append(Problem(f"unset.{path}", "not_set", f"{path} 未在本级设置",
                                            f"{path} is not set by this tenant"))
        start = effective_from or today
        if start < today:
            problems.append(Problem("effectiveFrom", "in_the_past", "生效日期不能早于今天",
                                    f"effectiveFrom must not be before today ({today})"))
        elif latest is not None and start < latest.effective_from:
            problems.append(Problem("effectiveFrom", "before_scheduled",
                                    f"已有版本 {latest.version_no} 自 {latest.effective_from} 起生效，新版本不能更早",
                                    f"version {latest.version_no} takes effect on {latest.effective_from}; "
                                    "a new version cannot start before it"))
        if len(comment) > 500:
            problems.append(
                Problem("comment", "too_long", "说明不能超过 500 字", "comment must be at most 500 characters")
            )
        # Every problem at once: the own document's structure, then the merged document's rules from its date on
        # (a wrong weight sum is reported beside an unknown key), each by its document path.
        problems += _once(check_overrides(new_own) + await _check_timeline(new_own, max(start, today)))
        if replaced is not None and start > replaced.effective_from and not problems:
            # Until the replacement starts, the version before the replaced one stays in force.
            problems += await _check_timeline(latest.overrides if latest else {}, replaced.effective_from)
        if problems:
            raise InvalidInput.of(problems)
        document = (await effective_config(start, own_override=new_own)).document
        if problems := await unit_code_problems(document, before=(await effective_config(start)).document):
            raise InvalidInput.of(problems)
        # Numbers count every version, withdrawn ones too.
        last = await ConfigVersion.all().order_by("-version_no").first()
        next_no = (last.version_no if last else 0) + 1
        try:
            version = await ConfigVersion.create(version_no=next_no, overrides=new_own, effective_from=start,
                                                 author=actor, comment=comment)
        except IntegrityError as exc:
            raise Conflict("配置刚被他人修改，请刷新后重试", "the configuration changed meanwhile; reload and retry",
                           field="document") from exc
        forget_effective()
        if replaced is not None:
            await _mark_withdrawn(replaced, actor=actor, reason=comment or f"replaced by version {next_no}",
                                  replaced_by=next_no)
        await audit.record(actor=actor, action="config.change", target_type="config_version", target_id=next_no,
                           details={"effectiveFrom": str(start), "comment": comment, "changes": diff(own, new_own),
                                    **({"replaces": replaces} if replaces is not None else {})})
        return version


def _unit_refs(document: ConfigDocument) -> list[tuple[str, tuple[str, str, str, str]]]:
    """(path, (item code, acts or helps, unit type, unit code)) of every department the taxonomy names by code."""
    refs = []
    for i, category in enumerate(document.tickets.taxonomy):
        for j, item in enumerate(category.items):
            path = f"tickets.taxonomy.{i}.items.{j}"
            if item.unit_code is not None:
                refs.append((f"{path}.unit_code", (item.code, "acts", item.unit, item.unit_code)))
            refs += [(f"{path}.partners.{k}.unit_code", (item.code, "helps", p.unit, p.unit_code))
                     for k, p in enumerate(item.partners) if p.unit_code is not None]
    return refs  # type: ignore[return-value]


async def unit_code_problems(document: ConfigDocument, *, before: ConfigDocument | None = None) -> list[Problem]:
    """The responsibility matrix names departments by code: each the change introduces (a reference the
    document in force already made is left alone) must be an active unit of that type on file with this tenant.
    The document alone cannot know the tenant's units, so this runs here and not in ``checks``."""
    from tenants.territory.parties import Unit

    known = {ref for _, ref in _unit_refs(before)} if before is not None else set()
    refs = [(path, ref[2], ref[3]) for path, ref in _unit_refs(document) if ref not in known]
    if not refs:
        return []
    rows = await Unit.filter(code__in=sorted({code for _, _, code in refs})).values("kind", "code", "is_active")
    on_file = {(str(r["kind"]), r["code"]): r["is_active"] for r in rows}
    problems = []
    for path, unit, code in refs:
        active = on_file.get((unit, code))
        if active is None:
            problems.append(Problem(path, "unknown_unit", f"本地没有编码为 {code} 的{_UNIT_ZH[unit]}",
                                    f"no {unit} with code {code} is on file"))
        elif not active:
            problems.append(Problem(path, "inactive_unit", f"编码为 {code} 的{_UNIT_ZH[unit]}已停用",
                                    f"the {unit} with code {code} is deactivated"))
    return problems


_UNIT_ZH = {"county_department": "县直部门", "housing_dept": "住建部门"}


async def withdraw_version(*, access: Caller, actor: str, version_no: int, reason: str) -> ConfigVersion:
    """Withdraw a scheduled version before it takes effect: the version before it stays in force from its date.

    Only the latest version not withdrawn can be withdrawn, never one in force (its date is tenant-local today
    or earlier), and only if the configuration in force from its date on stays valid (with the parent's versions,
    and for a city with its districts'). The row stays, marked withdrawn, and the audit log records it.
    """
    require(access, "config.change")
    async with savepoint():
        today = await clock.today()
        version, problems = await _withdrawable(version_no, today, field="versionNo")
        problems += text_problems("reason", reason, "撤回理由", required=True, limit=500)
        if not problems:
            _, fallback = await current_overrides(besides=version_no)
            problems += await _check_timeline(fallback, version.effective_from)
        if problems:
            raise InvalidInput.of(problems)
        return await _mark_withdrawn(version, actor=actor, reason=reason.strip(), replaced_by=None)


async def _withdrawable(version_no: int, today: date, *, field: str) -> tuple[ConfigVersion, list[Problem]]:
    """The version ``version_no`` (locked) and what forbids withdrawing it; NotFound when there is none."""
    version = await ConfigVersion.filter(version_no=version_no).select_for_update().first()
    if version is None:
        raise NotFound(f"配置版本 {version_no} 不存在", f"configuration version {version_no} does not exist",
                       field=field)
    problems = []
    if version.withdrawn_at is not None:
        problems.append(Problem(field, "already_withdrawn", f"版本 {version_no} 已撤回",
                                f"version {version_no} is already withdrawn"))
    elif version.effective_from <= today:
        problems.append(Problem(field, "in_force", f"版本 {version_no} 已于 {version.effective_from} 生效，不能撤回",
                                f"version {version_no} is in force since {version.effective_from}; "
                                "it can no longer be withdrawn"))
    else:
        later = await ConfigVersion.filter(version_no__gt=version_no, withdrawn_at__isnull=True).order_by(
            "-version_no").values_list("version_no", flat=True)
        if later:
            problems.append(Problem(field, "later_scheduled", f"请先撤回其后的版本 {later[0]}",
                                    f"withdraw the later version {later[0]} first"))
    return version, problems


async def _mark_withdrawn(version: ConfigVersion, *, actor: str, reason: str, replaced_by: int | None) -> ConfigVersion:
    version.withdrawn_at = clock.now()
    version.withdrawn_by = actor
    version.withdrawal_reason = reason[:500]
    version.replaced_by = replaced_by
    forget_effective()
    await ConfigVersion.filter(id=version.id).update(withdrawn_at=version.withdrawn_at, withdrawn_by=actor,
                                                     withdrawal_reason=version.withdrawal_reason,
                                                     replaced_by=replaced_by)
    await audit.record(actor=actor, action="config.withdraw", target_type="config_version",
                       target_id=version.version_no,
                       details={"effectiveFrom": str(version.effective_from), "reason": version.withdrawal_reason,
                                "replacedBy": replaced_by})
    return version


async def versions_of(tenant_id: int) -> list[ConfigVersion]:
    """A tenant's versions not withdrawn, oldest first (with ``version_on``: the version in force on any day, for
    many days from one read). Reads another tenant's versions (the parent's, or a district's); row-level security
    allows exactly those."""
    return await QuerySet(ConfigVersion).filter(tenant_id=tenant_id, withdrawn_at__isnull=True).order_by("version_no")


def version_on(versions: list[ConfigVersion], day: date) -> ConfigVersion | None:
    """The version of ``versions_of`` in force on ``day`` (the latest started), None before the first."""
    return next((v for v in reversed(versions) if v.effective_from <= day), None)


def _in_force_on(versions: list[ConfigVersion], day: date) -> dict:
    version = version_on(versions, day)
    if version is not None:
        check_readable(version.schema_version)
    return version.overrides if version else {}


def _check(chain: list[tuple[str, dict]], prefix: str, day: date, start: date) -> list[Problem]:
    try:
        effective(chain)
    except InvalidInput as exc:
        when = "" if day == start else f" (from {day})"
        return [
            Problem(f"{prefix}{p.field}".rstrip("."), p.reason, p.message_zh + when, p.message_en + when)
            for p in exc.problems
        ]
    return []


async def _check_timeline(new_own: dict, start: date) -> list[Problem]:
    """Validate ``new_own`` from ``start`` on: with the parent's versions in force then and later, and as the
    parent of each district (with the district's versions in force then and later)."""
    me = await Tenant.get(id=current_tenant_id())
    problems: list[Problem] = []
    parent = await Tenant.get(id=me.parent_id) if me.parent_id else None
    parent_versions = await versions_of(parent.id) if parent else []
    days = sorted({start} | {v.effective_from for v in parent_versions if v.effective_from > start})
    for day in days:
        chain = ([(parent.slug, _in_force_on(parent_versions, day))] if parent else []) + [(me.slug, new_own)]
        problems += _check(chain, "", day, start)
        if problems:
            break
    # A problem of the city's own document shows in each district too; it is reported once, at its own path.
    own_found = {(p.field, p.reason) for p in problems + check_overrides(new_own)}
    for child in await Tenant.filter(parent_id=me.id).order_by("id"):
        child_versions = await versions_of(child.id)
        if not child_versions:
            continue
        for day in sorted({start} | {v.effective_from for v in child_versions if v.effective_from > start}):
            found = [
                p for p in _check([(me.slug, new_own), (child.slug, _in_force_on(child_versions, day))], "", day, start)
                if (p.field, p.reason) not in own_found
            ]
            found = [Problem(f"children.{child.slug}.{p.field}".rstrip("."), p.reason, p.message_zh, p.message_en)
                     for p in found]
            problems += found
            if found:
                break
    return problems


def _bad(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def unstorable(value: Any, path: str) -> list[Problem]:
    """Text PostgreSQL cannot store (NUL, lone surrogates), in a value or in a document's keys and strings."""
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            here = f"{path}.{key}".lstrip(".") if isinstance(key, str) and not _bad(key) else path
            out += unstorable(key, here) or unstorable(item, here)
        return out
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in unstorable(item, f"{path}.{i}".lstrip("."))]
    if isinstance(value, str) and _bad(value):
        return [Problem(path or "document", "bad_character", "含有无法保存的字符（NUL 或孤立代理项）",
                        "contains a character that cannot be stored (NUL or a lone surrogate)")]
    return []


def _once(problems: list[Problem]) -> list[Problem]:
    """Each (path, reason) once: a wrong value in the own document is also wrong in every merged one."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.field, p.reason) not in seen:
            seen.add((p.field, p.reason))
            out.append(p)
    return out


def _drop(doc: dict, parts: list[str]) -> bool:
    node: Any = doc
    for part in parts[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return False
    if parts[-1] not in node:
        return False
    del node[parts[-1]]
    return True


VERSIONS = Order(("-version_no",), (int,))


async def list_versions(*, access: Caller, window: Window) -> Page[ConfigVersion]:
    """A window of this tenant's configuration versions, newest first."""
    require(access, "config.read")
    return await page(ConfigVersion.all(), VERSIONS, window)


async def diff_versions(*, access: Caller, from_no: int, to_no: int) -> list[dict]:
    """Leaf changes of this tenant's own document between two versions (0 = before the first)."""
    require(access, "config.read")
    docs: dict[str, dict] = {}
    for field, no in (("fromVersion", from_no), ("toVersion", to_no)):
        if no == 0:
            docs[field] = {}
            continue
        version = await ConfigVersion.get_or_none(version_no=no)
        if version is None:
            raise NotFound(f"配置版本 {no} 不存在", f"configuration version {no} does not exist", field=field)
        docs[field] = version.overrides
    return diff(docs["fromVersion"], docs["toVersion"])
