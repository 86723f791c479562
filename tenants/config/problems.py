"""Pydantic validation errors as ``Problem``s: a dotted path, a stable reason code, Chinese and English text."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tenants.config.types import CLOCK_PATTERN
from tenants.errors import Problem

_WRONG_TYPE = {
    "int_type": ("整数", "an integer"),
    "int_parsing": ("整数", "an integer"),
    "int_from_float": ("整数", "an integer"),
    "string_type": ("文本", "a string"),
    "bool_type": ("true 或 false", "true or false"),
    "bool_parsing": ("true 或 false", "true or false"),
    "dict_type": ("表（键值映射）", "a table (mapping)"),
    "model_type": ("表（键值映射）", "a table (mapping)"),
    "model_attributes_type": ("表（键值映射）", "a table (mapping)"),
    "list_type": ("列表", "a list"),
}
_BOUNDS = {
    "greater_than": ("gt", "大于", ">"),
    "greater_than_equal": ("ge", "大于等于", ">="),
    "less_than": ("lt", "小于", "<"),
    "less_than_equal": ("le", "小于等于", "<="),
}


def show(value: Any) -> str:
    """A short rendering of a bad input for a message."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def path_of(loc: tuple[int | str, ...]) -> str:
    """``("assessment", "rubric", 2, "body")`` -> ``"assessment.rubric.2.body"``; a bad key reads as its path."""
    return ".".join(str(part) for part in loc if part != "[key]")


def from_error(error: ErrorDetails) -> Problem:
    """One pydantic error as a Problem."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    path = path_of(error["loc"])
    if kind == "missing":
        return Problem(path, "required", "必填", "is required")
    if kind == "extra_forbidden":
        return Problem(path, "unknown_key", "不是已知的配置项", "is not a known setting")
    if kind in _WRONG_TYPE:
        zh, en = _WRONG_TYPE[kind]
        return Problem(path, "wrong_type", f"须为{zh}，实为 {show(got)}", f"must be {en}, got {show(got)}")
    if kind in _BOUNDS:
        key, zh_op, en_op = _BOUNDS[kind]
        bound = ctx.get(key)
        return Problem(
            path, "out_of_range", f"须{zh_op} {bound}，实为 {show(got)}", f"must be {en_op} {bound}, got {show(got)}"
        )
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        zh_expected = expected.replace(" or ", "、").replace(", ", "、")
        return Problem(
            path, "invalid_choice", f"须为 {zh_expected} 之一，实为 {show(got)}", f"must be {expected}, got {show(got)}"
        )
    if kind == "string_too_short":
        return Problem(path, "too_short", "不能为空", "must not be empty")
    if kind == "too_short":
        n = ctx.get("min_length")
        return Problem(path, "too_short", f"至少需要 {n} 项", f"must have at least {n} entries")
    if kind in ("string_too_long", "too_long"):
        n = ctx.get("max_length")
        return Problem(path, "too_long", f"不能超过 {n} 个字符", f"must be at most {n} long")
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == CLOCK_PATTERN:
        return Problem(path, "format", f"须为时刻 HH:MM（00:00 至 23:59），实为 {show(got)}",
                       f"must be a time of day HH:MM (00:00 to 23:59), got {show(got)}")
    if kind == "string_pattern_mismatch":
        return Problem(
            path,
            "format",
            f"须为编码：小写字母、数字或下划线，以字母开头，实为 {show(got)}",
            f"must be a code of lowercase letters, digits and underscores starting with a letter, got {show(got)}",
        )
    return Problem(path, kind, f"无效：{error['msg']}", error["msg"])


def from_validation_error(exc: ValidationError) -> list[Problem]:
    """Every error of a pydantic validation, in document order."""
    return [from_error(e) for e in exc.errors(include_url=False)]
