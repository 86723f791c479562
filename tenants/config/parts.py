"""Reading parts of a raw, possibly broken document for the cross-field rules, and the problems they raise.

A part is validated on its own; a broken part reads as None (its field errors are reported by pydantic), so the
rules that need it are skipped while every other rule still runs.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from tenants.config.types import Cadence
from tenants.errors import Problem

M = TypeVar("M", bound=BaseModel)


def at(raw: Any, path: str) -> Any:
    """The raw value at a dotted path, or None."""
    node = raw
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def valid(raw: Any, path: str, tp: Any) -> Any:
    """The part at ``path`` validated as ``tp``; None when absent or broken."""
    value = at(raw, path)
    if value is None:
        return None
    try:
        return _adapter(tp).validate_python(value)
    except ValidationError:
        return None


def entries(raw: Any, path: str, model: type[M]) -> tuple[list[tuple[int, M]], bool]:
    """The list items at ``path`` that are valid on their own, with their index, and whether all of them were."""
    value = at(raw, path)
    if not isinstance(value, list):
        return [], False
    found: list[tuple[int, M]] = []
    for i, item in enumerate(value):
        try:
            found.append((i, model.model_validate(item)))
        except ValidationError:
            continue
    return found, len(found) == len(value)


def raw_codes(raw: Any, path: str) -> set[str] | None:
    """Codes present at ``path`` (mapping keys, or ``code`` of list items), read leniently; None when absent."""
    value = at(raw, path)
    if isinstance(value, dict):
        return {k for k in value if isinstance(k, str)}
    if isinstance(value, list):
        return {x["code"] for x in value if isinstance(x, dict) and isinstance(x.get("code"), str)}
    return None


def weights_sum(path: str, total: int) -> Problem:
    return Problem(path, "weights_sum", f"权重之和须为 100，实为 {total}", f"must sum to 100, got {total}")


def duplicates(located: list[tuple[str, str]]) -> list[Problem]:
    """``located`` is (path of an item, its code); every repeat of a code is a problem."""
    first: dict[str, str] = {}
    out = []
    for path, code in located:
        if code not in first:
            first[code] = path
            continue
        out.append(
            Problem(
                f"{path}.code",
                "duplicate_code",
                f"编码 {code} 重复（已用于 {first[code]}）",
                f"duplicate code {code!r} (also at {first[code]})",
            )
        )
    return out


def unknown(path: str, reason: str, what: tuple[str, str], code: str, known: set[str]) -> Problem:
    """A reference to a code that does not exist; ``what`` names the kind in Chinese and English."""
    listed = ", ".join(sorted(known)) or "none"
    return Problem(
        path, reason, f"{what[0]} {code} 不存在（已有：{listed}）", f"unknown {what[1]} {code!r} (known: {listed})"
    )


def not_above(path: str, name: str, limit: int, value: int, reason: str = "range_order") -> Problem:
    """``value`` at ``path`` may not exceed the field ``name`` (``limit``)."""
    return Problem(
        path, reason, f"不能超过 {name}（{limit}），实为 {value}", f"must not exceed {name} ({limit}), got {value}"
    )


def not_below(path: str, name: str, limit: int, value: int, reason: str = "range_order") -> Problem:
    """``value`` at ``path`` may not be less than the field ``name`` (``limit``)."""
    return Problem(
        path, reason, f"不能小于 {name}（{limit}），实为 {value}", f"must be at least {name} ({limit}), got {value}"
    )


_FINER = {("monthly", "quarterly"), ("monthly", "yearly"), ("quarterly", "yearly")}


def too_fine(path: str, cadence: str, base: Cadence | None) -> list[Problem]:
    """A ranking cannot run more often than the assessment that produces the scores."""
    if base is None or (cadence, base) not in _FINER:
        return []
    return [
        Problem(
            path,
            "cadence_too_fine",
            f"考核为 {base} 时不能按 {cadence} 排名",
            f"cannot be {cadence} when assessments are {base}",
        )
    ]
