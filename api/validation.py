"""GraphQL's own parse and validation messages as civicgrid errors: ``messageZh``/``messageEn``, a ``reason`` and
the ``field`` at fault (an argument, input field, variable or selected field), like a domain error's."""

from __future__ import annotations

import re
from typing import Any

FALLBACK_ZH = "请求不符合接口定义（GraphQL 校验未通过）"
# (pattern on graphql-core's message, reason, Chinese text with the match's groups, group naming the field)
RULES: list[tuple[re.Pattern[str], str, str, str | None]] = [
    (re.compile(r"^Syntax Error: (?P<what>.*)$"), "syntax", "GraphQL 语法错误：{what}", None),
    (re.compile(r"^Cannot query field '(?P<field>[^']+)' on type '(?P<type>[^']+)'"), "unknown_field",
     "类型 {type} 没有字段 {field}", "field"),
    (re.compile(r"^Unknown argument '(?P<field>[^']+)' on field '(?P<on>[^']+)'"), "unknown_argument",
     "字段 {on} 没有参数 {field}", "field"),
    (re.compile(r"^Argument '(?P<on>[^(']+)\((?P<field>[^:']+):\)' of type '(?P<type>[^']+)' is required"),
     "required", "缺少必填参数 {field}（{type}）", "field"),
    (re.compile(r"^Field '(?P<on>[^']+)' argument '(?P<field>[^']+)' of type '(?P<type>[^']+)' is required"),
     "required", "缺少必填参数 {field}（{type}）", "field"),
    (re.compile(r"^Field '(?P<on>[^.']+)\.(?P<field>[^']+)' of required type '(?P<type>[^']+)' was not provided"),
     "required", "缺少必填字段 {field}（{type}）", "field"),
    (re.compile(r"^Expected value of type '(?P<type>[^']+)' to include required field '(?P<field>[^']+)'"),
     "required", "{type} 缺少必填字段 {field}", "field"),
    (re.compile(r"^Variable '\$(?P<field>[^']+)' of required type '(?P<type>[^']+)' was not provided"),
     "required", "缺少必填变量 ${field}（{type}）", "field"),
    (re.compile(r"^Variable '\$(?P<field>[^']+)' (?:got|has) invalid value"), "wrong_type",
     "变量 ${field} 的值类型不对", "field"),
    (re.compile(r"^Variable '\$(?P<field>[^']+)' is never used"), "unused_variable", "变量 ${field} 未被使用",
     "field"),
    (re.compile(r"^Variable '\$(?P<field>[^']+)' is not defined"), "undefined_variable", "变量 ${field} 未定义",
     "field"),
    (re.compile(r"^Value '(?P<value>[^']*)' does not exist in '(?P<type>[^']+)' enum"), "wrong_type",
     "枚举 {type} 没有取值 {value}", None),
    (re.compile(r"^(?P<type>Int|Float|String|Boolean|ID|[A-Z]\w*) cannot represent"), "wrong_type",
     "值的类型不对：应为 {type}", None),
    (re.compile(r"^Expected value of type '(?P<type>[^']+)', found"), "wrong_type", "值的类型不对：应为 {type}", None),
    (re.compile(r"^Field '(?P<field>[^']+)' of type '(?P<type>[^']+)' must have a selection of subfields"),
     "selection_required", "字段 {field}（{type}）需要选择子字段", "field"),
    (re.compile(r"^Field '(?P<field>[^']+)' must not have a selection"), "selection_forbidden",
     "字段 {field} 是标量，不能选择子字段", "field"),
    (re.compile(r"^Field '(?P<field>[^']+)' is not defined by type '(?P<type>[^']+)'"), "unknown_field",
     "{type} 没有字段 {field}", "field"),
    (re.compile(r"^Unknown type '(?P<type>[^']+)'"), "unknown_type", "未知类型 {type}", None),
    (re.compile(r"^Unknown fragment '(?P<name>[^']+)'"), "unknown_fragment", "未知片段 {name}", None),
    (re.compile(r"^Unknown operation named '(?P<name>[^']+)'"), "unknown_operation", "未知操作 {name}", None),
    (re.compile(r"must be the only defined operation|Must provide operation name"), "operation_name",
     "请求包含多个操作时必须指定 operationName", None),
]


def explain(message: str) -> dict[str, Any]:
    """``reason``, ``field`` and ``messageZh`` for one of graphql-core's messages (a fallback for the rest)."""
    for pattern, reason, zh, field in RULES:
        m = pattern.search(message)
        if m:
            named = m.group(field) if field else None
            return {"reason": reason, "field": named, "messageZh": zh.format(**m.groupdict())}
    return {"reason": "invalid", "field": None, "messageZh": f"{FALLBACK_ZH}：{message}"}
