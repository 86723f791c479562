"""Who may do what: named permissions ``<domain>.<action>`` mapped to roles in one table, checked by ``require``.

Services check, so GraphQL, jobs and the CLI obey the same rule (jobs and the CLI pass ``SYSTEM``, the tenant's
administration). A permission names the roles that may hold it; a node-scoped one also names a rule that the
node acted on must pass (a writer post on a territory node, the ticket's assigned unit, an assessor body's
grant). Out-of-scope rows are not this module's business: they read as NOT_FOUND through each domain's
``access.py``. The README's table of permissions is rendered from ``PERMISSIONS`` (``civicgrid roles --markdown``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tenants.errors import Forbidden
from tenants.roles import Role

R = Role

# The county's offices that oversee the whole tenant: tenant administrators and the housing department 住建部门.
# The one name for this pair (it reads everything; only the administration changes most of it).
ADMINISTRATION = frozenset({R.TENANT_ADMIN, R.HOUSING_DEPT})
TERRITORY_STAFF = frozenset({R.STREET_OFFICER, R.COMMUNITY_WORKER})  # the street's and community's own staff
# Everyone who reports a grievance for a resident 代报 (and who reports at all without being a resident).
STAFF_REPORTERS = frozenset(
    {R.GRID_WORKER, R.STEWARD, R.COMMUNITY_WORKER, R.STREET_OFFICER, R.TENANT_ADMIN, R.BUILDING_HEAD}
)
# Units a ticket (or a partner task) is assigned to act through these roles (unit_staff: a department's).
UNIT_ROLES = frozenset(
    {R.TENANT_ADMIN, R.STREET_OFFICER, R.COMMUNITY_WORKER, R.PROPERTY_COMPANY, R.UNIT_STAFF, R.HOUSING_DEPT}
)
TENANT_ROLES = frozenset(Role) - {R.PLATFORM_ADMIN}


class Caller(Protocol):
    """Whoever acts: a request's data scope (``tenants.territory.access.Access``), a token's principal, or
    ``SYSTEM``. Node rules read the data scope's writer posts, companies and units."""

    @property
    def roles(self) -> frozenset[Role]: ...


Place = tuple[str, int | None]
"""A territory node as (level, id): ``("street", 12)``."""


@dataclass(frozen=True)
class NodeRule:
    """How a node narrows a permission: ``holds(caller, node)``, described for the README."""

    describe: str
    holds: Callable[[Any, Any], bool]


def _whole(caller: Any) -> bool:
    return R.TENANT_ADMIN in caller.roles


def holds_post(caller: Any, level: str, node_id: int | None) -> bool:
    """A writer post on this very node (street officer's street, community worker's community, grid worker's
    grid); a tenant administrator counts as holding every post."""
    if _whole(caller):
        return True
    return node_id is not None and node_id in getattr(caller, "staff_nodes", {}).get(level, frozenset())


def acts_for_unit(caller: Any, kind: str | None, unit_id: int | None) -> bool:
    """The unit's own staff (a community's or street's writer post, a company's or department's scope), or a
    tenant administrator."""
    if _whole(caller):
        return True
    if kind in ("community", "street"):
        return holds_post(caller, kind, unit_id)
    if kind == "property_company":
        return unit_id in getattr(caller, "companies", frozenset())
    if kind in ("housing_dept", "county_department"):
        return unit_id in getattr(caller, "units", frozenset())
    return False


def _on_post(caller: Any, node: Any) -> bool:
    """``node``: a Place, or several (any one will do)."""
    places: list[Place] = [node] if isinstance(node, tuple) and isinstance(node[0], str) else list(node)
    return any(holds_post(caller, level, node_id) for level, node_id in places)


def _reviews(caller: Any, ticket: Any) -> bool:
    return _on_post(caller, [("community", ticket.community_id), ("street", ticket.street_id)])


def _assigned(caller: Any, ticket: Any) -> bool:
    return acts_for_unit(caller, ticket.assignee_kind, ticket.assignee_id)


def _scores(caller: Any, sheet: Any) -> bool:
    """``sheet``: ``body``, ``compound`` and the caller's ``grants`` (``tenants.assessment.rounds.grants``)."""
    if sheet.compound is None:
        return False
    for g in sheet.grants:
        if g.body != sheet.body:
            continue
        if g.level is None:
            return True
        if g.level == "compound" and g.node_id == sheet.compound.id:
            return True
        if g.level in ("street", "community", "grid") and getattr(sheet.compound, f"{g.level}_id") == g.node_id:
            return True
    return False




def post_on(what: str) -> NodeRule:
    """A writer post on ``what`` (a Place given as the node), or tenant_admin."""
    return NodeRule(f"a writer post on {what} (or tenant_admin)", _on_post)


REVIEWS = NodeRule("the ticket's community or street (or tenant_admin)", _reviews)
ASSIGNED = NodeRule("the assigned unit's own staff (or tenant_admin)", _assigned)
HANDLES = NodeRule(
    "the assigned unit, or the ticket's community or street", lambda c, t: _assigned(c, t) or _reviews(c, t)
)
DECISION_OWNER = NodeRule(
    "the decision's owner (its unit's or firm's staff), or the meeting's community or street",
    lambda c, d: acts_for_unit(c, "property_company" if d.owner_kind == "company" else "county_department",
                               d.owner_id) or _on_post(c, [("community", d.community_id), ("street", d.street_id)]),
)
PARTNER = NodeRule(
    "the partner unit's own staff (or tenant_admin)", lambda c, t: acts_for_unit(c, t.unit_kind, t.unit_id)
)
REPORTER = NodeRule("the resident who reported it", lambda c, t: t.reporter_user_id == getattr(c, "user_id", None))
ENTERED = NodeRule(
    "entered for a resident, by the caller or the ticket's community or street",
    lambda c, t: t.entered_by != t.reporter_user_id and (t.entered_by == getattr(c, "user_id", None) or _reviews(c, t)),
)
BODY = NodeRule(
    "a grant of the body on the compound: a role the body's configuration names, or an assessor post", _scores
)


@dataclass(frozen=True)
class Permission:
    name: str
    roles: frozenset[Role]
    en: str  # what it allows ("dispatch a ticket"), in the README and the refusal
    zh: str
    node: NodeRule | None = None
    # The domain's own wording of a refusal (zh, en): of the node for a node-scoped permission, else of the role.
    # Default: the roles needed, or (a node not the caller's) that it is outside the caller's posts.
    message: tuple[str, str] | None = None


def _p(name: str, roles: Iterable[Role], en: str, zh: str, node: NodeRule | None = None,
       message: tuple[str, str] | None = None) -> Permission:
    return Permission(name, frozenset(roles), en, zh, node, message)


TA = {R.TENANT_ADMIN}
ADMIN_AND_STAFF = ADMINISTRATION | TERRITORY_STAFF
FINDERS = TA | TERRITORY_STAFF | {R.SUPERVISOR}
# fmt: off
PERMISSIONS: dict[str, Permission] = {p.name: p for p in (
    # Platform, configuration, audit, jobs.
    _p("tenants.manage", {R.PLATFORM_ADMIN}, "list, create, activate and deactivate tenants", "管理租户"),
    _p("config.read", ADMIN_AND_STAFF, "read the configuration, its versions and changes", "查看配置"),
    _p("config.change", TA, "change the configuration, withdraw a scheduled version", "修改配置"),
    _p("audit.read", TA, "read the audit log", "查看审计日志"),
    _p("jobs.read", TA, "read job runs", "查看任务运行记录"),
    # Territory, parties and people (nodes below one's own post: the territory's write filter).
    _p("territory.import", TA, "import territory files", "导入区划数据"),
    _p("territory.create_street", TA, "create streets", "新建街道",
       message=("只有租户管理员可以新建街道", "only tenant administrators create streets")),
    _p("parties.write_company", ADMINISTRATION, "register property companies", "登记物业企业"),
    _p("parties.write_contract", ADMINISTRATION | {R.STREET_OFFICER},
       "record property contracts (a street officer in their street)", "登记物业合同"),
    _p("parties.write_unit", TA, "create units (departments, offices)", "新建单位"),
    _p("people.register", TA | TERRITORY_STAFF, "register people (staff: in what they look after)", "登记人员",
       message=("无权登记人员", "you may not register people")),
    _p("people.assign_post", TA, "assign and end posts", "任命岗位",
       message=("只有租户管理员可以任命或解除岗位", "only tenant administrators assign and end posts")),
    # Tickets.
    _p("tickets.read_catalog", TENANT_ROLES, "read the ticket catalogue (categories, items, units, display)",
       "查看诉求目录"),
    _p("tickets.report", STAFF_REPORTERS | {R.RESIDENT}, "report a grievance", "反映诉求"),
    _p("tickets.report_for_resident", STAFF_REPORTERS, "report for a resident 代报", "代居民反映诉求"),
    _p("tickets.dispatch", TA | TERRITORY_STAFF, "review and dispatch a ticket", "审核派单", REVIEWS),
    _p("tickets.reject", TA | TERRITORY_STAFF, "reject a ticket", "驳回工单", REVIEWS),
    _p("tickets.escalate", TA | TERRITORY_STAFF, "escalate a ticket 提级督办", "提级督办", REVIEWS),
    _p("tickets.accept", UNIT_ROLES, "accept an assigned ticket", "受理工单", ASSIGNED),
    _p("tickets.resolve", UNIT_ROLES, "resolve an assigned ticket", "办结工单", ASSIGNED),
    _p("tickets.transfer", UNIT_ROLES, "transfer a ticket to another unit", "转派工单", HANDLES),
    _p("tickets.rate", TENANT_ROLES, "rate one's own ticket", "评价工单", REPORTER),
    _p("tickets.record_return_visit", STAFF_REPORTERS, "record a return visit 回访", "记录回访", ENTERED),
    _p("tickets.accept_partner_task", UNIT_ROLES, "accept a partner task 配合", "接收配合任务", PARTNER),
    _p("tickets.complete_partner_task", UNIT_ROLES, "complete a partner task", "完成配合任务", PARTNER),
    _p("tickets.import", TA, "import ticket history", "导入历史工单"),
    # Files (photos attached to tickets and findings).
    _p("files.upload", TENANT_ROLES, "upload a photo", "上传照片"),
    _p("files.read", TENANT_ROLES, "read a file: one's own, or attached to what one reads", "查看文件"),
    _p("files.attach_others", STAFF_REPORTERS | UNIT_ROLES | FINDERS,
       "attach a photo someone else of the tenant uploaded", "附加他人上传的照片"),
    _p("inbox.webhooks", TA, "manage webhooks and read their deliveries", "管理推送"),
    # Assessment.
    _p("assessment.score", TENANT_ROLES, "submit and correct a body's score sheet", "评分", BODY,
       ("您不能代表该考核主体为该小区评分", "you do not score for this body on this compound")),
    _p("assessment.open_round", TA, "open an assessment round", "开启考核"),
    _p("assessment.enter_late", TA, "enter late paper sheets 补录", "补录纸质评分",
       message=("只有本地管理员可以补录纸质评分", "only a tenant administrator enters late paper sheets")),
    _p("assessment.record_finding", FINDERS, "record a supervisor's finding", "登记监督问题",
       message=("只有监督员或街道社区可以登记问题", "only supervisors and territory staff record findings")),
    _p("assessment.resolve_finding", FINDERS, "confirm a finding resolved (never the firm)", "确认整改",
       message=("整改须由监督员确认", "a supervisor confirms that a finding is resolved")),
    _p("assessment.read_drafts", ADMINISTRATION, "read draft ratings, missing scores, elimination candidates",
       "查看考核草稿"),
    _p("assessment.rate", TA, "compute and publish ratings", "计算并发布评级"),
    _p("assessment.record_interview", ADMINISTRATION | {R.STREET_OFFICER},
       "record a 约谈 and mark its follow-up done (a street officer: with a firm of their street)", "记录约谈"),
    _p("assessment.read_interviews", ADMINISTRATION | {R.STREET_OFFICER, R.PROPERTY_COMPANY, R.UNIT_STAFF},
       "read interviews (a firm its own, a unit its own, a street its firms' and units')", "查看约谈"),
    # Money.
    _p("ledger.read", ADMINISTRATION, "read ledger balances, entries and the check", "查看账本"),
    _p("subsidies.read_pools", ADMIN_AND_STAFF, "read 以奖代补 pools", "查看奖补资金池"),
    _p("subsidies.read_statements", ADMIN_AND_STAFF | {R.PROPERTY_COMPANY},
       "read settlement statements (a company its own lines)", "查看结算单"),
    _p("subsidies.run", TA, "run a settlement", "生成结算单"),
    _p("subsidies.approve", TA, "approve a settlement statement", "批准结算单"),
    _p("subsidies.pay", TA, "record a settlement's payment", "登记结算付款"),
    _p("exports.download", ADMINISTRATION, "download rating and settlement exports", "下载报表"),
    _p("brand.read", ADMIN_AND_STAFF, "read brand projects", "查看品牌项目"),
    _p("brand.read_totals", ADMINISTRATION, "read a year's brand totals", "查看品牌项目年度汇总"),
    _p("brand.declare", TA | {R.COMMUNITY_WORKER}, "declare a brand project", "申报品牌项目", post_on("the community"),
       ("只能为本社区申报品牌项目", "only the community's own workers declare its brand projects")),
    _p("brand.approve", TA, "approve a brand project", "批准品牌项目"),
    _p("brand.reject", TA, "reject a brand project", "驳回品牌项目"),
    _p("brand.evaluate", TA | {R.STREET_OFFICER}, "evaluate a brand project mid-year", "中期评估品牌项目",
       post_on("the project's street"),
       ("只有项目所在街道可以进行中期评估", "only the project's own street evaluates it")),
    _p("brand.accept", TA, "accept a brand project", "验收品牌项目"),
    _p("brand.pay", TA, "pay a brand project's award", "拨付品牌项目奖补"),
    _p("bonds.read", ADMIN_AND_STAFF | {R.PROPERTY_COMPANY}, "read performance bonds", "查看履约保证金"),
    _p("bonds.move", TA | {R.STREET_OFFICER}, "deposit, draw down and refund a bond", "办理履约保证金",
       post_on("the compound's street"),
       ("只有小区所在街道或租户管理员可以办理履约保证金",
        "only the compound's street or a tenant administrator moves its bond")),
    _p("bonds.refund_early", TA, "refund a bond before its contract ends", "提前退还保证金"),
    # issue 17 part A: earning points, reading them (narrowed by tenants/points/access.py), the check, exports.
    _p("points.award", TA | TERRITORY_STAFF | {R.GRID_WORKER},
       "award duty points by hand (staff: to people in their area; never to oneself)", "奖励积分"),
    _p("points.reverse", TA | TERRITORY_STAFF | {R.GRID_WORKER},
       "reverse a points award (staff: of people in their area; never one's own)", "撤销积分"),
    _p("points.read", TENANT_ROLES, "read points: one's own, or (staff) of the people in one's area", "查看积分"),
    _p("points.check", TA, "recompute every points balance (pointsCheck)", "核对积分"),
    _p("points.export", TA | TERRITORY_STAFF | {R.GRID_WORKER}, "download a grid's points history", "导出网格积分"),
    # issue 17 part D: grid scores, grid workers' pay statements, leaderboards.
    _p("grid_scores.read", ADMIN_AND_STAFF | {R.GRID_WORKER},
       "read grid scores (staff: the grids they look after)", "查看网格评分"),
    _p("grid_scores.compute", TA, "compute a month's grid scores and pay statements", "计算网格评分"),
    _p("pay_statements.read", TA | TERRITORY_STAFF | {R.GRID_WORKER},
       "read performance-pay statements (staff: their grids'; a grid worker: their own)", "查看绩效工资单"),
    _p("pay_statements.approve", TA, "approve and revise a performance-pay statement", "审批绩效工资单"),
    _p("pay_statements.pay", TA, "record that a month's approved pay statements went to payroll", "登记绩效工资发放"),
    _p("points.leaderboard", TENANT_ROLES, "read the points and grid leaderboards", "查看积分排行榜"),
    # issue 17 part B: redemption, vouchers, partners, the points fund, partner statements.
    _p("points.catalogue", TENANT_ROLES, "read the points catalogue", "查看积分兑换目录"),
    _p("points.redeem", TENANT_ROLES, "redeem one's own points for a voucher", "积分兑换"),
    _p("vouchers.read", TENANT_ROLES,
       "read vouchers: one's own; a partner's staff its partner's; the administration all", "查看兑换券"),
    _p("vouchers.verify", {R.PARTNER_STAFF, R.PROPERTY_COMPANY, R.TENANT_ADMIN},
       "verify a voucher (a partner's staff its kind; a company a fee reduction of its households)", "核销兑换券"),
    _p("vouchers.cancel", TENANT_ROLES, "cancel one's own unused voucher (tenant_admin: any)", "取消兑换券"),
    _p("points.fund", TA, "fund the points fund", "充值积分兑换资金"),
    _p("partner.manage", TA, "create and change partners (merchants, canteens)", "管理合作商户"),
    _p("partner.read", ADMINISTRATION | TERRITORY_STAFF | {R.PARTNER_STAFF},
       "read partners (a partner's staff: its own)", "查看合作商户"),
    _p("partner_statements.read", ADMINISTRATION | {R.PARTNER_STAFF},
       "read partner statements (a partner's staff: its own)", "查看商户结算单"),
    _p("partner_statements.compute", TA, "compute a month's partner statements", "生成商户结算单"),
    _p("partner_statements.approve", TA, "approve a partner statement", "批准商户结算单"),
    _p("partner_statements.pay", TA, "record a partner statement's payment", "登记商户结算付款"),
    # issue 18 part B: 双报到 work units, registrations, member posts, coverage (scope: tenants/dual/access.py).
    _p("dual.unit.manage", TA | {R.STREET_OFFICER}, "create and change 双报到 work units", "管理报到单位"),
    _p("dual.unit.register", TA | TERRITORY_STAFF | {R.WORK_UNIT_CONTACT},
       "register a work unit at a community (staff: in their area; a unit's contact: its own unit)", "单位报到",
       NodeRule("the community's or street's writer post, or the unit's own contact (or tenant_admin)",
                lambda c, n: _on_post(c, [("community", n.community_id), ("street", n.street_id)])
                or n.work_unit_id in getattr(c, "by_role", {}).get(R.WORK_UNIT_CONTACT, {}).get("work_unit", ())),
       ("只能为本辖区的社区或本单位办理报到", "only the community's own staff or the unit's contact register it")),
    _p("dual.registration.approve", TA | TERRITORY_STAFF, "approve, reject and end 双报到 registrations",
       "审核双报到", post_on("the registration's community or street"),
       ("只有报到社区或其街道可以审核", "only the registration's community or its street decides it")),
    _p("dual.member.register", TA | TERRITORY_STAFF | {R.PARTY_MEMBER},
       "register an in-service party member (a member: themselves; staff: anyone in their area)", "党员报到"),
    _p("dual.post.manage", TA | TERRITORY_STAFF | {R.PARTY_MEMBER},
       "claim, assign and end members' posts (a member: their own; staff: in their area)", "管理党员岗位"),
    _p("dual.read", ADMIN_AND_STAFF | {R.PARTY_MEMBER, R.WORK_UNIT_CONTACT},
       "read 双报到 registrations and posts (a member: their own; a unit's contact: its unit's)", "查看双报到"),
    _p("dual.coverage.read", ADMIN_AND_STAFF, "read the building-head coverage report (staff: their area)",
       "查看楼长覆盖情况"),
    # issue 18 part C: needs and project lists 需求清单/项目清单, claims, micro-wishes 微心愿.
    _p("dual.list.manage", TA | TERRITORY_STAFF,
       "publish and close a community's needs and projects, accept, return or cancel claims", "管理需求和项目清单",
       post_on("the community or its street"),
       ("只能管理本社区（或本街道社区）的清单", "only the community's own staff (or its street's) manage its lists")),
    _p("dual.list.claim", {R.PARTY_MEMBER, R.WORK_UNIT_CONTACT},
       "claim a need or project, report it done or withdraw it (a member, or a registered unit's contact)", "认领清单"),
    _p("dual.wish.post", TA | TERRITORY_STAFF | {R.RESIDENT},
       "post a micro-wish (a resident their own; staff for a resident of their area)", "发布微心愿"),
    _p("dual.wish.claim", {R.PARTY_MEMBER, R.WORK_UNIT_CONTACT},
       "claim and fulfil a micro-wish (a member, or a registered unit's contact)", "认领微心愿"),
    _p("dual.wish.confirm", TA | TERRITORY_STAFF | {R.RESIDENT},
       "confirm, reopen or cancel a micro-wish (its resident; staff of its community or street)", "确认微心愿"),
    # issue 18 part D: 双报到 activities (sign-up, waiting list, check-in, attendance).
    _p("dual.activity.manage", TA | TERRITORY_STAFF,
       "create, change, cancel and close activities, assign members, read check-in codes, mark attendance",
       "管理双报到活动", post_on("the activity's community or street"),
       ("只能管理本社区（街道）的活动", "only the activity's own community or street manages it")),
    _p("dual.activity.join", {R.PARTY_MEMBER}, "sign up for an activity, leave it, check in with its code",
       "报名参加双报到活动"),
    # issue 18 part E: talks and notices from the absence rule, year-end reports and their exports (rows narrowed
    # by tenants/dual/report_access.py).
    _p("dual.talk.manage", TA | TERRITORY_STAFF,
       "read and close 双报到 talks 谈话 (staff: of members of their community or street)", "管理双报到谈话"),
    _p("dual.report.read", ADMIN_AND_STAFF | {R.WORK_UNIT_CONTACT, R.PARTY_MEMBER},
       "read 双报到 year-end figures and notices (staff: their area; a unit's contact: its members; a member: their "
       "own year)", "查看双报到年度报表"),
    _p("dual.report.export", ADMIN_AND_STAFF | {R.WORK_UNIT_CONTACT},
       "download 双报到 year-end reports (a unit's contact: its own unit)", "导出双报到年度报表"),
    # issue 18 part F: emergency mobilisation 平急结合 (switch and stand down; place people in work groups by hand).
    _p("dual.emergency.manage", TA | {R.STREET_OFFICER},
       "switch a community (or a street) to emergency mode and stand it down", "启动和解除应急状态",
       post_on("the community's street")),
    _p("dual.emergency.assign", TA | TERRITORY_STAFF,
       "put people in a community's work groups by hand, or take them out", "调整工作组人员",
       post_on("the community or its street")),
    # issue 19 part B: joint meetings 联席会议, their decisions and compliance (scope: tenants/meetings/access.py).
    _p("meetings.record", TA | TERRITORY_STAFF, "record a joint meeting of a community or compound",
       "记录联席会议", post_on("the meeting's community or its street")),
    _p("meetings.read", ADMIN_AND_STAFF | {R.PROPERTY_COMPANY, R.UNIT_STAFF},
       "read joint meetings and decisions (staff: their area; a firm: the meetings of its compounds or their "
       "communities, its own decisions; a unit: its decisions)", "查看联席会议"),
    _p("meetings.decision.manage", TA | TERRITORY_STAFF, "add a meeting's decisions and cancel them",
       "管理会议决定事项", post_on("the meeting's community or its street")),
    _p("meetings.decision.complete", TA | TERRITORY_STAFF | {R.PROPERTY_COMPANY, R.UNIT_STAFF, R.HOUSING_DEPT},
       "mark a decision done with evidence", "办结会议决定事项", DECISION_OWNER),
    _p("meetings.figures.read", ADMIN_AND_STAFF, "read issues settled by joint meetings (staff: their area)",
       "查看联席会议成效"),
    # issue 19 part C: commendations 表彰挂牌 of the red list (interviews use assessment.*_interview above).
    _p("assessment.read_commendations", ADMIN_AND_STAFF | {R.PROPERTY_COMPANY},
       "read the commendations of published red lists", "查看表彰"),
    _p("assessment.commend", ADMINISTRATION, "record a commendation's plaque day", "登记表彰挂牌"),
    # issue 19 part D: property managers 物业经理 on contracts (撤换调整), decisions on elimination candidates.
    _p("parties.write_manager", ADMINISTRATION | {R.STREET_OFFICER},
       "put property managers on file and name them on contracts (replacing the one before)", "登记和撤换物业经理"),
    _p("parties.read_managers", ADMINISTRATION | TERRITORY_STAFF | {R.GRID_WORKER, R.PROPERTY_COMPANY},
       "read property managers, their contracts' histories (reasons such as 不胜任) and their ratings (staff: of the "
       "firms serving their area; a firm: its own; the phone: the administration and the manager's firm only)",
       "查看物业经理"),
    _p("assessment.decide_elimination", TA,
       "record the decision on a yearly elimination candidate (kept, warned, replaced)", "记录末位淘汰处理结果"),
)}
# fmt: on


def permission(name: str) -> Permission:
    try:
        return PERMISSIONS[name]
    except KeyError:
        raise LookupError(f"no permission named {name!r} (tenants/permissions.py)") from None


def has_role(caller: Caller, name: str) -> bool:
    """Whether the caller holds a role that grants ``name`` (before any node)."""
    return bool(caller.roles & permission(name).roles)


def allows(caller: Caller, name: str, node: Any = None) -> bool:
    """Whether ``require`` would let the caller through."""
    perm = permission(name)
    if not caller.roles & perm.roles:
        return False
    return node is None or perm.node is None or perm.node.holds(caller, node)


def refusal(name: str, *, field: str | None = None, outside: bool = False) -> Forbidden:
    """The FORBIDDEN error for ``name``: the roles it needs, or (``outside``) the node is not the caller's."""
    perm = permission(name)
    if perm.message is not None and (outside or perm.node is None):  # a node rule's wording speaks of the node
        return Forbidden(*perm.message, field=field)
    if outside:
        return Forbidden(f"无权{perm.zh}：不在您的职责范围内", f"you may not {perm.en} here", field=field)
    names = ", ".join(sorted(r.value for r in perm.roles))
    return Forbidden(
        f"无权{perm.zh}（需要以下角色之一：{names}）",
        f"you may not {perm.en} ({name}; requires one of the roles: {names})",
        field=field,
    )


def require(caller: Caller, name: str, node: Any = None, *, field: str | None = None) -> None:
    """Refuse (FORBIDDEN) a caller without a role granting ``name``, or, for a node-scoped permission given its
    ``node``, one the node's rule does not let through (without a node only the role is checked)."""
    perm = permission(name)
    if not caller.roles & perm.roles:
        raise refusal(name, field=field)
    if node is not None and perm.node is not None and not perm.node.holds(caller, node):
        raise refusal(name, field=field, outside=True)


def markdown() -> str:
    """The README's table: every permission, the roles that hold it, and how a node narrows it."""
    lines = ["| permission | allows | roles | on |", "|---|---|---|---|"]
    for perm in PERMISSIONS.values():
        ordered = sorted(perm.roles, key=list(Role).index)
        roles = "every tenant role" if perm.roles == TENANT_ROLES else ", ".join(f"`{r.value}`" for r in ordered)
        lines.append(f"| `{perm.name}` | {perm.en} | {roles} | {perm.node.describe if perm.node else ''} |")
    return "\n".join(lines) + "\n"


ROLE_ZH = {
    R.PLATFORM_ADMIN: "平台管理员",
    R.TENANT_ADMIN: "租户管理员",
    R.STREET_OFFICER: "街道干部",
    R.COMMUNITY_WORKER: "社区工作者",
    R.GRID_WORKER: "网格员",
    R.BUILDING_HEAD: "楼长",
    R.STEWARD: "邻里大管家",
    R.HOUSING_DEPT: "住建部门",
    R.UNIT_STAFF: "部门工作人员",
    R.OWNERS_COMMITTEE: "业委会",
    R.PROPERTY_COMPANY: "物业企业",
    R.SUPERVISOR: "小区监督员",
    R.RESIDENT: "居民",
    R.PARTY_MEMBER: "在职党员",
    R.ASSESSOR: "考核主体",
    R.UNIT_HEAD: "单元长",
    R.VOLUNTEER: "志愿者",
    R.PARTNER_STAFF: "合作商户员工",
    R.WORK_UNIT_CONTACT: "报到单位联络人",
}


def roles_note(*names: str) -> str:
    """The sentence a GraphQL field's description ends with (api/descriptions.py): the permission(s) and the roles
    that hold them, e.g. ``Requires tickets.dispatch: tenant_admin 租户管理员, street_officer 街道干部,
    community_worker 社区工作者; on the ticket's community or street (or tenant_admin).``"""
    parts = []
    for name in names:
        perm = permission(name)
        if perm.roles == TENANT_ROLES:
            roles = "every tenant role"
        else:
            roles = ", ".join(f"{r.value} {ROLE_ZH[r]}" for r in sorted(perm.roles, key=list(Role).index))
        on = f"; on {perm.node.describe}" if perm.node else ""
        parts.append(f"{name}: {roles}{on}")
    return "Requires " + " | ".join(parts) + "."


README_BEGIN = "<!-- permissions: generated by `civicgrid roles --write` from tenants/permissions.py -->"
README_END = "<!-- permissions: end -->"


def in_readme(text: str) -> str:
    """``text`` (the README) with the table between its markers rendered anew."""
    head, sep, rest = text.partition(README_BEGIN)
    _, sep2, tail = rest.partition(README_END)
    if not sep or not sep2:
        raise ValueError("README.md has no permissions block (its begin and end markers)")
    return f"{head}{README_BEGIN}\n{markdown()}{README_END}{tail}"
