"""A score sheet's input: typed ``items`` (ScoreItemInput) or, deprecated, the ``scores``/``notes`` JSON maps;
exactly one of the two. Both become the service's ``{item code: points}`` and ``{item code: note}``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import strawberry

from tenants.errors import InvalidInput, Problem


@strawberry.input(description="One rubric item of a score sheet: its code, the points given, and a note.")
class ScoreItemInput:
    item_code: str = strawberry.field(description="The rubric item's code (the period's configuration).")
    points: int = strawberry.field(description="Points given: 0 up to the item's maxPoints.")
    note: str | None = strawberry.field(default=None, description="The assessor's note on the item, if any.")


@dataclass
class Sheet:
    """A sheet's points and notes by item code, and where each item came from in ``items`` (for error paths)."""

    scores: dict[str, int]
    notes: dict[str, str]
    positions: dict[str, int] | None = field(default=None)


def _scores(value: object, field: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and type(v) is int for k, v in value.items()):
        raise InvalidInput.of(
            [Problem(field, "format", "评分须为 {评分项: 整数分}", "scores map item codes to integers")]
        )
    return value  # type: ignore[return-value]


def _notes(value: object, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput.of([Problem(field, "format", "备注须为 {评分项: 文字}", "notes map item codes to text")])
    return value  # type: ignore[return-value]


def sheet_of(scores: object, notes: object, items: list[ScoreItemInput] | None, at: str = "") -> Sheet:
    """The sheet given as ``items`` or as the ``scores``/``notes`` JSON (``at``: the input's path, e.g.
    ``sheets.0.``); mixing the two, or giving neither, is INVALID_INPUT naming the field."""
    if items is None:
        if scores is None:
            raise InvalidInput.of(
                [Problem(f"{at}items", "required", "请填写评分项 items", "give the sheet's items")]
            )
        return Sheet(_scores(scores, f"{at}scores"), _notes(notes, f"{at}notes"))
    mixed = [name for name, value in (("scores", scores), ("notes", notes)) if value is not None]
    if mixed:
        raise InvalidInput.of(
            [
                Problem(
                    f"{at}{name}", "exclusive", f"已填写 items，不能同时填写 {name}",
                    f"give items or the deprecated {name}, not both",
                )
                for name in mixed
            ]
        )
    out = Sheet({}, {}, {})
    problems = []
    for j, item in enumerate(items):
        if item.item_code in out.scores:
            problems.append(
                Problem(f"{at}items.{j}.itemCode", "duplicate", "评分项重复", f"{item.item_code} is given twice")
            )
            continue
        out.scores[item.item_code] = item.points
        out.positions[item.item_code] = j  # type: ignore[index]
        if item.note is not None:
            out.notes[item.item_code] = item.note
    if problems:
        raise InvalidInput.of(problems)
    return out


def _renamed(p: Problem, sheets: dict[str, Sheet]) -> Problem:
    for at, sheet in sheets.items():
        if sheet.positions is None:
            continue
        for old, new in (("scores", "points"), ("notes", "note")):
            prefix = f"{at}{old}."
            if p.field.startswith(prefix):
                code = p.field[len(prefix):]
                j = sheet.positions.get(code)
                if p.reason == "unknown_item":
                    new = "itemCode"
                where = f"{at}items" if j is None else f"{at}items.{j}.{new}"  # a missing item: the list itself
                return Problem(where, p.reason, p.message_zh, p.message_en)
    return p


@contextmanager
def item_paths(sheets: dict[str, Sheet]) -> Iterator[None]:
    """Problems the service reports on ``scores.<code>``/``notes.<code>`` of a sheet given as items name the item
    instead (``items.<j>.points``, ``items.<j>.note``, ``items.<j>.itemCode`` for an unknown code; ``items`` for a
    missing one)."""
    try:
        yield
    except InvalidInput as exc:
        exc.problems = [_renamed(p, sheets) for p in exc.problems]
        if exc.field is not None:
            exc.field = _renamed(Problem(exc.field, "", "", ""), sheets).field
        raise
