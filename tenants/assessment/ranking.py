"""Ranking of scored compounds or companies, the red/black list 红黑榜 and the service star 服务之星.

Ranking rule (no shared ranks; stable across runs): higher score first; on equal scores the higher body part
(the scores people gave, to 0.01); then the fewer deduction points; then the smaller key (the compound or
company id), so the order never depends on input order. Ranks run 1..n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from tenants.config.assessment import Assessment


@dataclass(frozen=True)
class Ranked:
    """One ranked compound or company: its id, its score and its place (1 = best)."""

    key: int
    score: Decimal
    rank: int


def rank(rows: list[tuple[int, Decimal, Decimal, Decimal]]) -> list[Ranked]:
    """Rows ``(key, score, body_part, deductions)`` in rank order by the rule in the module docstring."""
    keys = [row[0] for row in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("ranking keys must be unique")
    ordered = sorted(rows, key=lambda r: (-r[1], -r[2], r[3], r[0]))
    return [Ranked(key=key, score=score, rank=i) for i, (key, score, _, _) in enumerate(ordered, start=1)]


def _in_rank_order(ranked: list[Ranked]) -> list[Ranked]:
    return sorted(ranked, key=lambda r: r.rank)


def red_black(assessment: Assessment, ranked: list[Ranked]) -> tuple[list[int], list[int]]:
    """(commended keys, interviewed keys), each in rank order; both empty when the list is not enabled.

    ``basis = "count"``: the top ``commend_top`` and the bottom ``interview_bottom``; ``"percent"``: the ceiling
    of that percent of the ranked entries (so any non-zero percent names at least one). The lists never overlap:
    when the ranking is too short for both, the bottom (interviews) is taken in full first and the commendation
    gets what remains above it, because an interview is a follow-up duty that a commendation must not hide.
    """
    config = assessment.red_black_list
    if not config.enabled:
        return [], []
    order = _in_rank_order(ranked)
    n = len(order)
    if config.basis == "count":
        top, bottom = config.commend_top, config.interview_bottom
    else:
        top, bottom = math.ceil(n * config.commend_top / 100), math.ceil(n * config.interview_bottom / 100)
    bottom = min(bottom, n)
    top = min(top, n - bottom)
    return [r.key for r in order[:top]], [r.key for r in order[n - bottom :]]


def service_stars(assessment: Assessment, ranked: list[Ranked]) -> list[int]:
    """Keys of the service star(s): among the top ``top_n`` in rank order, those scoring at least ``min_score``."""
    config = assessment.service_star
    if not config.enabled:
        return []
    return [r.key for r in _in_rank_order(ranked)[: config.top_n] if r.score >= config.min_score]
