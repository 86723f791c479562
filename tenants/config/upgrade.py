"""Configuration documents carry the schema they were stored under; migrations bring stored ones to today's.

``SCHEMA_VERSION`` is the shape of ``ConfigDocument`` this code writes (``config_version.schema_version`` on every
row). A change to that shape (``tests/config_schema.sha256`` pins it) ships three things together: ``SCHEMA_VERSION``
+ 1, a step in ``STEPS`` that brings a document of the version before to it (defaults for added fields, renames),
and a migration that runs the step over the stored rows (``upgrade_stored``; ``0023_config_documents_upgrade``
did it for 2, ``0026_config_points`` for 3, ``0030_dual_config`` for 4,
``0035_config_meetings`` for 5). Like migrations, a shipped step never
changes. A row of an older schema that still turns up (written by an older release after a rollback) is upgraded
the same way in memory where it is read (``upgrade_document``); a row of a NEWER schema than the code's is refused
with ``CONFIG_TOO_NEW`` for that tenant only (``check_readable``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenants.errors import DomainError

SCHEMA_VERSION = 5  # 1: every document stored before schema versions existed (migrations 0001-0022)
UNVERSIONED = 1  # the column's database default: a row written by a release that does not name its schema


class ConfigTooNew(DomainError):
    """The tenant's configuration was stored by a newer release than this one (a rolled-back deploy)."""

    code = "CONFIG_TOO_NEW"

    def __init__(self, found: int) -> None:
        super().__init__(
            f"该租户的配置由更新的版本保存（配置结构 {found}，本版本只能读取 {SCHEMA_VERSION} 及以前）："
            "请重新部署新版本",
            f"this tenant's configuration was stored by a newer release (configuration schema {found}; this release "
            f"reads up to {SCHEMA_VERSION}): deploy that release again",
            field="configuration",
            details={"schemaVersion": found, "readsUpTo": SCHEMA_VERSION},
        )


def check_readable(schema_version: int) -> None:
    """Refuse a stored document of a schema this code does not know (it would misread it, or fail validation)."""
    if schema_version > SCHEMA_VERSION:
        raise ConfigTooNew(schema_version)


# A step brings one document to its version: (document, root, parent_documents) -> filled paths. ``root``: a tenant
# without a parent, whose document is whole; a district's document holds only its overrides, so a default is filled
# there only where it cannot shadow what the parent sets. ``parent_documents``: the parent's stored documents
# (already upgraded), or None when the caller does not have them.
Step = Callable[[dict, bool, list[dict] | None], list[str]]


# --- schema 2: the fields added to the document since migration 0001 (git log -p tenants/config) -----------------
# Frozen here on the day schema 2 shipped; each value keeps the behaviour from before its field existed.
_V2_WHOLE: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("assessment", "company_combination"), "fee_receivable"),  # f1b8049: the only way before
    (("assessment", "red_black_list", "ties"), "all_on"),  # ee58251
    (("assessment", "red_black_list", "unscored"), "off_lists"),  # ee58251
    (("assessment", "service_star", "ties"), "all_on"),  # ee58251
    (("tickets", "efficiency_office_window"), "consecutive"),  # f25c116
    (("tickets", "partner_accept_hours"), 24),  # f25c116
    (("files", "keep_location"), False),  # 157a99f: photos lose their location unless a tenant keeps it
    (("files", "unattached_retention_hours"), 24),  # 4a273cd: uploads never attached are deleted after a day
    (("open311", "publish_descriptions"), False),  # 4a273cd: Open311 published no description before
)
_V2_SECTIONS = ("files", "open311")  # sections added whole: a document without them gets them
# Every taxonomy item (lists replace whole when inherited, so an item is complete in any document).
_V2_ITEM: tuple[tuple[str, Any], ...] = (("partners", []), ("photo_expected", False))  # f25c116, 4a273cd
# fa0643b: who speaks for a body, as the shipped presets define each code (they agree).
_V2_BODY_ROLES: dict[str, list[str]] = {
    "community_party_org": ["community_worker"],
    "street_party_org": ["street_officer"],
    "owners_committee": ["owners_committee"],
    "street_party_office": ["street_officer"],
    "property_centre": ["housing_dept"],
    "residents_committee": ["community_worker"],
    "party_org": ["street_officer", "community_worker"],
    "housing_dept": ["housing_dept"],
}


def _missing(node: dict, key: str) -> bool:
    return node.get(key) is None  # None is "not set" when documents merge


def _to_v2(doc: dict, root: bool, parents: list[dict] | None) -> list[str]:
    filled: list[str] = []
    if root:
        for path, default in _V2_WHOLE:
            node: Any = doc
            for key in path[:-1]:
                if path[0] in _V2_SECTIONS and _missing(node, key):
                    node[key] = {}
                node = node.get(key) if isinstance(node, dict) else None
            # A section a document lacks stays missing (validation names it) unless schema 2 added it whole.
            if isinstance(node, dict) and _missing(node, path[-1]):
                node[path[-1]] = copy.deepcopy(default)
                filled.append(".".join(path))
    taxonomy = doc.get("tickets", {}).get("taxonomy") if isinstance(doc.get("tickets"), dict) else None
    for c, category in enumerate(taxonomy if isinstance(taxonomy, list) else []):
        items = category.get("items") if isinstance(category, dict) else None
        for i, item in enumerate(items if isinstance(items, list) else []):
            for key, default in _V2_ITEM:
                if isinstance(item, dict) and _missing(item, key):
                    item[key] = copy.deepcopy(default)
                    filled.append(f"tickets.taxonomy.{c}.items.{i}.{key}")
    assessment = doc.get("assessment")
    bodies = assessment.get("bodies") if isinstance(assessment, dict) else None
    for code, body in (bodies if isinstance(bodies, dict) else {}).items():
        if not isinstance(body, dict) or not _missing(body, "roles") or code not in _V2_BODY_ROLES:
            continue  # a code no preset knows keeps its gap: validation asks for its roles
        roles = _V2_BODY_ROLES[code]
        if not root and (parents is None or any(_has_body(p, code) for p in parents)):
            continue  # a district's body its city defines inherits the city's roles: filled there, never shadowed
        body["roles"] = list(roles)
        filled.append(f"assessment.bodies.{code}.roles")
    return filled


def _has_body(doc: dict, code: str) -> bool:
    assessment = doc.get("assessment")
    bodies = assessment.get("bodies") if isinstance(assessment, dict) else None
    return isinstance(bodies, dict) and isinstance(bodies.get(code), dict)


# --- schema 3: points (issue 17) — events, catalogue fields, expiry warnings, grid score, performance pay, schedule --
# Frozen the day schema 3 shipped. Before it nothing earned or redeemed points, so each value keeps that behaviour:
# every rule is awarded by hand, performance pay is off, and the rest are document.py's defaults of that day.
_V3_WHOLE: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("points", "expiry_warning_days"), 7),
    (("points", "grid_score"), {
        "weights": {"closure_rate": 30, "satisfaction_rate": 30, "on_time_rate": 20, "compound_rating": 10,
                    "points": 10},
        "points_basis": "per_household",
        "points_full_marks": 10,
    }),
    (("points", "performance_pay"), {
        "enabled": False, "base_fen": 0, "bands": [{"min_score": 0, "percent": 100}], "points_rate_fen": 0,
        "points_cap_fen": 0, "cap_fen": 0,
    }),
    (("schedule", "monthly_points"), {"day": 5, "hour": 3}),
    (("schedule", "nightly_points_hour"), 1),
)
# Every earning rule and redemption (lists replace whole when inherited, so an item is complete in any document).
# The redemption's other new fields default to None (no stock, no limit, no window, any partner): absent is None.
_V3_RULE: tuple[tuple[str, Any], ...] = (("on", "manual"),)
_V3_REDEMPTION: tuple[tuple[str, Any], ...] = (("voucher_days", 30),)


def _to_v3(doc: dict, root: bool, parents: list[dict] | None) -> list[str]:
    filled: list[str] = []
    if root:  # a district inherits these from its city, which has them: filling them there would shadow the city's
        for path, default in _V3_WHOLE:
            node = doc.get(path[0])
            # A section a document lacks stays missing (validation names it); the new tables are added whole.
            if isinstance(node, dict) and _missing(node, path[1]):
                node[path[1]] = copy.deepcopy(default)
                filled.append(".".join(path))
    points = doc.get("points")
    for name, defaults in (("earning_rules", _V3_RULE), ("redemptions", _V3_REDEMPTION)):
        items = points.get(name) if isinstance(points, dict) else None
        for i, item in enumerate(items if isinstance(items, list) else []):
            for key, default in defaults:
                if isinstance(item, dict) and _missing(item, key):
                    item[key] = copy.deepcopy(default)
                    filled.append(f"points.{name}.{i}.{key}")
    return filled


# --- schema 4: 双报到 (issue 18) — deadlines, check-in codes, working hours, the year-end run, work groups ---------
# Frozen the day schema 4 shipped. Before it nothing read ``party.dual_registration`` beyond its three numbers, so the
# new fields take document.py's defaults of that day; ``notice_after_absences`` stays absent (None: no notice 通报).
_V4_DUAL: tuple[tuple[str, Any], ...] = (
    ("talk_due_days", 14),
    ("talk_reminder_days", 3),
    ("wish_claim_days", 7),
    ("wish_due_days", 30),
    ("wish_reminder_days", 3),
    ("checkin_code_minutes", 30),
    ("working_hours", {"start": "09:00", "end": "17:30", "weekdays": [1, 2, 3, 4, 5]}),
    ("year_end_report", {"month": 1, "day": 5, "hour": 3}),
    ("work_groups", {
        "normal": [
            {"code": "party_building", "title": "党建引领组", "skills": [], "building_heads": False, "others": False},
            {"code": "livelihood", "title": "民生服务组", "skills": [], "building_heads": False, "others": True},
            {"code": "safety", "title": "平安建设组", "skills": ["security"], "building_heads": False, "others": False},
            {"code": "environment", "title": "环境整治组", "skills": [], "building_heads": True, "others": False},
        ],
        "emergency": [
            {"code": "command", "title": "综合协调组", "skills": [], "building_heads": False, "others": False},
            {"code": "screening", "title": "排查登记组", "skills": [], "building_heads": True, "others": False},
            {"code": "supplies", "title": "物资保障组", "skills": ["logistics", "driver"], "building_heads": False,
             "others": False},
            {"code": "medical", "title": "医疗救护组", "skills": ["medical"], "building_heads": False, "others": False},
            {"code": "order", "title": "秩序维护组", "skills": ["security"], "building_heads": False, "others": False},
            {"code": "publicity", "title": "宣传引导组", "skills": ["publicity"], "building_heads": False,
             "others": False},
            {"code": "care", "title": "关爱帮扶组", "skills": [], "building_heads": False, "others": True},
        ],
    }),
)


def _to_v4(doc: dict, root: bool, parents: list[dict] | None) -> list[str]:
    """A root document's ``party.dual_registration`` gets each new field; a district inherits them from its city
    (filling them there would shadow what the city sets). No list of schema 3 gained item fields."""
    party = doc.get("party")
    dual = party.get("dual_registration") if isinstance(party, dict) else None
    if not root or not isinstance(dual, dict):  # a section a document lacks stays missing (validation names it)
        return []
    filled: list[str] = []
    for key, default in _V4_DUAL:
        if _missing(dual, key):
            dual[key] = copy.deepcopy(default)
            filled.append(f"party.dual_registration.{key}")
    return filled


# --- schema 5: joint meetings, interviews (issue 19) — rubric line sources, owed-interview days, meeting level -----
# Frozen the day schema 5 shipped. Before it every rubric line was entered by its body, publishing a list owed no
# interview and meetings were not held anywhere: each new field takes document.py's default of that day.
_V5_WHOLE: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("assessment", "red_black_list", "interview_within_days"), 30),
    (("assessment", "red_black_list", "interview_reminder_days"), 7),
    (("party", "joint_meeting", "level"), "community"),
    (("party", "joint_meeting", "decision_reminder_days"), 3),
    (("party", "joint_meeting", "decision_escalation_days"), 1),
)
_V5_RUBRIC_ITEM: tuple[tuple[str, Any], ...] = (("source", "body"),)


def _to_v5(doc: dict, root: bool, parents: list[dict] | None) -> list[str]:
    """A root document's red/black list and joint meeting get their new fields (a district inherits them from its
    city: filling them there would shadow what the city sets); every rubric line, in any document (a rubric list
    replaces whole when inherited, so a line is complete wherever it is), is entered by its body."""
    filled: list[str] = []
    if root:
        for path, default in _V5_WHOLE:
            section = doc.get(path[0])
            node = section.get(path[1]) if isinstance(section, dict) else None
            # A section a document lacks stays missing (validation names it).
            if isinstance(node, dict) and _missing(node, path[2]):
                node[path[2]] = copy.deepcopy(default)
                filled.append(".".join(path))
    assessment = doc.get("assessment")
    rubric = assessment.get("rubric") if isinstance(assessment, dict) else None
    for i, item in enumerate(rubric if isinstance(rubric, list) else []):
        for key, default in _V5_RUBRIC_ITEM:
            if isinstance(item, dict) and _missing(item, key):
                item[key] = copy.deepcopy(default)
                filled.append(f"assessment.rubric.{i}.{key}")
    return filled


STEPS: dict[int, Step] = {2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5}


def upgrade_document(
    doc: Any, schema_version: int, *, root: bool, parents: list[dict] | None = None, to: int = SCHEMA_VERSION
) -> tuple[Any, list[str]]:
    """``doc`` (stored under ``schema_version``) brought to schema ``to``, and the paths filled; ``doc`` itself
    is not changed."""
    check_readable(schema_version)
    if schema_version >= to or not isinstance(doc, dict):
        return doc, []
    upgraded, filled = copy.deepcopy(doc), []
    for version in range(schema_version + 1, to + 1):
        filled += STEPS[version](upgraded, root, parents)
    return upgraded, filled


@dataclass
class _Row:
    id: int
    tenant_id: int
    parent_id: int | None
    overrides: dict
    schema_version: int


async def upgrade_stored(client: Any, *, to: int) -> int:
    """Bring every stored configuration version below schema ``to`` up to it; the number of rows rewritten.

    Runs inside a migration, as the tables' owner: versions are immutable to every role (trigger of 0016) and
    tenant-isolated (row-level security, forced for the owner too), so both are lifted for this transaction only.
    """
    await client.execute_script(
        "ALTER TABLE config_version DISABLE TRIGGER config_version_withdraw;"
        " ALTER TABLE config_version NO FORCE ROW LEVEL SECURITY;"
        " SELECT set_config('app.platform', 'on', true);"  # the tenant table's policy: the platform reads every row
    )
    _, found = await client.execute_query(
        "SELECT v.id, v.tenant_id, t.parent_id, v.overrides::text AS overrides, v.schema_version"
        " FROM config_version v JOIN tenant t ON t.id = v.tenant_id ORDER BY t.parent_id NULLS FIRST, v.id"
    )
    rows = [_Row(r["id"], r["tenant_id"], r["parent_id"], json.loads(r["overrides"]), r["schema_version"])
            for r in found]
    by_tenant: dict[int, list[_Row]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    changed = 0
    for row in rows:  # roots first: a district's step consults its parent's upgraded documents
        if row.schema_version >= to:
            continue
        parents = None if row.parent_id is None else [p.overrides for p in by_tenant.get(row.parent_id, [])]
        row.overrides, _ = upgrade_document(row.overrides, row.schema_version, root=row.parent_id is None,
                                            parents=parents, to=to)
        await client.execute_query(
            "UPDATE config_version SET overrides = $2::jsonb, schema_version = $3 WHERE id = $1",
            [row.id, json.dumps(row.overrides, ensure_ascii=False), to],
        )
        changed += 1
    await client.execute_script(
        "SELECT set_config('app.platform', '', true);"
        " ALTER TABLE config_version FORCE ROW LEVEL SECURITY;"
        " ALTER TABLE config_version ENABLE TRIGGER config_version_withdraw;"
    )
    return changed


def schema_fingerprint() -> str:
    """SHA-256 of ``ConfigDocument``'s JSON schema (types, ranges, defaults; not its prose), which
    ``tests/config_schema.sha256`` pins per ``SCHEMA_VERSION``."""
    import hashlib

    from tenants.config.document import ConfigDocument

    def bare(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: bare(v) for k, v in node.items() if k not in ("description", "title")}
        return [bare(v) for v in node] if isinstance(node, list) else node

    text = json.dumps(bare(ConfigDocument.model_json_schema()), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
