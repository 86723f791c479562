"""State machines as tables: each domain lists its transitions (from-states, permission, effect) and runs them
through ``transition``, so every action checks permission, then state, then acts, the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from tenants.errors import IllegalTransition, Noun

R = TypeVar("R")


@dataclass(frozen=True)
class Transition(Generic[R]):
    """One row of a transition table: ``action`` starts from one of ``sources``, needs ``permission`` (a name such
    as ``tickets.dispatch``) and applies ``effect`` to the locked row."""

    action: str
    sources: Collection[Enum]
    permission: str
    effect: Callable[..., Awaitable[Any]]


async def transition(
    step: Transition[R],
    noun: Noun,
    row: R,
    *,
    state: Enum,
    allow: Callable[[str, R], Awaitable[None]],
    **effect_args: Any,
) -> Any:
    """Run ``step`` on ``row`` (already locked by the caller): ``allow`` raises Forbidden for its permission, a
    state outside ``sources`` is IllegalTransition, then the effect runs with ``effect_args``."""
    await allow(step.permission, row)
    if state not in step.sources:
        raise IllegalTransition(noun, step.action, state.value)
    return await step.effect(row, **effect_args)
