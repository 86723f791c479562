"""Expected failures: each has a stable code, the field at fault, and a message in Chinese and English."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by its path (e.g. ``input.slug``)."""

    field: str
    reason: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "reason": self.reason,
            "messageZh": self.message_zh,
            "messageEn": self.message_en,
        }


class DomainError(Exception):
    """Base of every expected failure; the API turns it into a GraphQL error with these extensions."""

    code: str = "DOMAIN_ERROR"  # a subclass's stable code; IllegalTransition may set its noun's own

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        field: str | None = None,
        problems: list[Problem] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        self.problems = problems or []
        self.details = details or {}

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {
            "code": self.code,
            "field": self.field,
            "messageZh": self.message_zh,
            "messageEn": self.message_en,
        }
        if self.problems:
            ext["problems"] = [p.as_dict() for p in self.problems]
        if self.details:
            ext["details"] = self.details
        return ext


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class InvalidInput(DomainError):
    """One or more fields are wrong; ``problems`` lists every one of them."""

    code = "INVALID_INPUT"

    @classmethod
    def of(cls, problems: list[Problem]) -> InvalidInput:
        first = problems[0]
        if len(problems) == 1:
            return cls(first.message_zh, first.message_en, field=first.field, problems=problems)
        return cls(
            f"输入有 {len(problems)} 处错误",
            f"{len(problems)} problems in the input",
            field=first.field,
            problems=problems,
        )


@dataclass(frozen=True)
class Noun:
    """Something with states, as ``IllegalTransition`` names it (工单 ticket, 品牌项目 brand project, ...)."""

    zh: str
    en: str
    states_zh: Mapping[str, str] = dataclasses.field(default_factory=dict)
    actions_zh: Mapping[str, str] = dataclasses.field(default_factory=dict)
    field: str = "state"  # the error's field
    state_key: str = "state"  # the key of the current state in the error's details
    code: str = "ILLEGAL_TRANSITION"  # a noun that shipped with another code keeps it
    article: str = "a"  # the English message's article ("an" before a vowel sound)


class IllegalTransition(Conflict):
    """The action is not possible from the current state of its row (one class for every domain)."""

    code = "ILLEGAL_TRANSITION"

    def __init__(self, noun: Noun, action: str, state: str) -> None:
        super().__init__(
            f"{noun.zh}当前状态为“{noun.states_zh.get(state, state)}”，不能{noun.actions_zh.get(action, action)}",
            f"cannot {action} {noun.article} {noun.en} that is {state}",
            field=noun.field,
            details={noun.state_key: state, "action": action},
        )
        self.code = noun.code


class NotEnabled(Conflict):
    """A feature the tenant's configuration switches off: ``NOT_ENABLED`` in every domain, with the feature's
    configuration section in ``details.feature`` (each subclass names it). What was recorded before stays readable."""

    code = "NOT_ENABLED"
    feature: str = ""
    feature_zh: str = ""
    feature_en: str = ""

    def __init__(self, *, field: str | None = None) -> None:
        super().__init__(
            f"本地区未启用{self.feature_zh}", f"not enabled for this tenant: {self.feature_en}", field=field,
            details={"feature": self.feature},
        )


class TenantScopeMissing(DomainError):
    """Tenant-owned data was touched with no tenant in scope: fail closed."""

    code = "TENANT_SCOPE_MISSING"

    def __init__(self) -> None:
        super().__init__("未确定租户范围，操作被拒绝", "No tenant in scope; refusing to touch tenant data")


def text_problems(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    """The problems of a free-text input (stripped): missing when ``required``, longer than ``limit``, or holding
    characters PostgreSQL cannot store (reason ``nul`` or ``surrogate``, as the GraphQL edge names them; jobs and
    the CLI do not pass that edge)."""
    value = value.strip()
    if required and not value:
        return [Problem(field, "required", f"请填写{label_zh}", f"{field} is required")]
    problems = []
    if (bad := unstorable(value)) is not None:
        problems.append(Problem(field, bad, f"{label_zh}含有无法保存的字符（NUL 或孤立代理项）",
                                f"{field} contains a character that cannot be stored (NUL or a lone surrogate)"))
    if len(value) > limit:
        problems.append(
            Problem(field, "too_long", f"{label_zh}不能超过 {limit} 字", f"{field} must be at most {limit} characters")
        )
    return problems


def unstorable(value: str) -> str | None:
    """Why PostgreSQL could not store ``value`` as text ("nul" or "surrogate"), or None when it can."""
    if "\x00" in value:
        return "nul"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None
