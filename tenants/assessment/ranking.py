"""Ranking of scored compounds or companies, the red/black list 红黑榜 and the service star 服务之星.

Ranking rule (no shared ranks; stable across runs): higher score first; on equal scores the higher body part
(the scores people gave, to 0.01); then the fewer deduction points; then the smaller key (the compound or
company id), so the order never depends on input order. Ranks run 1..n. List membership (red/black list,
service star) looks at the score only: equal scores are treated alike, never split by that tie-break.
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


@dataclass(frozen=True)
class Placement:
    """Where one firm landed on a list and why (shown per company in its breakdown)."""

    on: bool
    reason: str


def _groups(order: list[Ranked]) -> list[list[Ranked]]:
    """Consecutive runs of equal scores, in the given order."""
    out: list[list[Ranked]] = []
    for r in order:
        if out and out[-1][0].score == r.score:
            out[-1].append(r)
        else:
            out.append([r])
    return out


def _take(groups: list[list[Ranked]], want: int, ties: str) -> tuple[set[int], set[int], set[int]]:
    """(keys on the list, keys on it by ``all_on`` beyond ``want``, keys held off by ``all_off``) taking ``want``
    entries from the front of ``groups``: a run of equal scores that the size cuts through goes on whole
    (``all_on``) or stays off whole (``all_off``)."""
    taken: set[int] = set()
    for g in groups:
        if len(taken) >= want:
            break
        keys = {r.key for r in g}
        if len(taken) + len(g) <= want:
            taken |= keys
        elif ties == "all_on":
            return taken | keys, keys, set()
        else:
            return taken, set(), keys
    return taken, set(), set()


def red_black_places(
    assessment: Assessment, ranked: list[Ranked], unscored: frozenset[int] = frozenset()
) -> dict[int, tuple[str, Placement]]:
    """Every key's list (``commended``, ``interviewed`` or ``none``) and why; empty when the list is disabled.

    Only firms with at least one submitted score sheet count (``unscored`` keys have none): sizes are
    ``commend_top`` / ``interview_bottom`` firms (``basis = "count"``) or the ceiling of that percent of the scored
    firms (so any non-zero percent names at least one). A run of equal scores that a size cuts through goes on the
    list whole or stays off whole (``ties``), so the tie-break by id never decides. The lists never overlap: when
    the scored firms are too few for both sizes, the interviews keep their size and the commendation gets what
    remains above it (an interview is a follow-up duty that a commendation must not hide); a run of equal scores
    that both lists reach into goes on neither (``tie_both_lists``). Unscored firms are never commended;
    ``unscored = "interview"`` interviews them.
    """
    config = assessment.red_black_list
    if not config.enabled:
        return {}
    order = _in_rank_order(ranked)
    pool = [r for r in order if r.key not in unscored]
    n = len(pool)
    if config.basis == "count":
        top, bottom = config.commend_top, config.interview_bottom
    else:
        top, bottom = math.ceil(n * config.commend_top / 100), math.ceil(n * config.interview_bottom / 100)
    bottom = min(bottom, n)
    top = min(top, n - bottom)
    groups = _groups(pool)
    interviewed, low_tied, low_held = _take(list(reversed(groups)), bottom, config.ties)
    commended, high_tied, high_held = _take(groups, top, config.ties)
    # Only a run that both sizes reach into (``all_on``) can land on both: it goes on neither. Unscored firms that
    # are interviewed take their equals among the scored firms off the commendation too.
    contested = interviewed & commended
    if config.unscored == "interview":
        interviewed_scores = {r.score for r in order if r.key in unscored}
        contested |= {r.key for r in pool if r.key in commended and r.score in interviewed_scores}
    interviewed, commended = interviewed - contested, commended - contested
    out: dict[int, tuple[str, Placement]] = {}
    for r in order:
        if r.key in unscored:
            interview = config.unscored == "interview"
            out[r.key] = ("interviewed" if interview else "none", Placement(interview, "unscored"))
        elif r.key in interviewed:
            out[r.key] = ("interviewed", Placement(True, "tie_all_on" if r.key in low_tied else "bottom"))
        elif r.key in commended:
            out[r.key] = ("commended", Placement(True, "tie_all_on" if r.key in high_tied else "top"))
        elif r.key in contested:
            out[r.key] = ("none", Placement(False, "tie_both_lists"))
        elif r.key in low_held | high_held:
            out[r.key] = ("none", Placement(False, "tie_all_off"))
        else:
            out[r.key] = ("none", Placement(False, "between"))
    return out


def red_black(
    assessment: Assessment, ranked: list[Ranked], unscored: frozenset[int] = frozenset()
) -> tuple[list[int], list[int]]:
    """(commended keys, interviewed keys), each in rank order (rules in ``red_black_places``)."""
    places = red_black_places(assessment, ranked, unscored)
    order = [r.key for r in _in_rank_order(ranked)]
    return (
        [k for k in order if k in places and places[k][0] == "commended"],
        [k for k in order if k in places and places[k][0] == "interviewed"],
    )


def star_places(
    assessment: Assessment, ranked: list[Ranked], unscored: frozenset[int] = frozenset()
) -> dict[int, Placement]:
    """Every key's service star and why; empty when stars are disabled. Among the scored firms, the top ``top_n``
    (a run of equal scores the size cuts through: all or none, by ``ties``) scoring at least ``min_score``."""
    config = assessment.service_star
    if not config.enabled:
        return {}
    order = _in_rank_order(ranked)
    top, tied, held = _take(_groups([r for r in order if r.key not in unscored]), config.top_n, config.ties)
    out: dict[int, Placement] = {}
    for r in order:
        if r.key in unscored:
            out[r.key] = Placement(False, "unscored")
        elif r.key in top and r.score >= config.min_score:
            out[r.key] = Placement(True, "tie_all_on" if r.key in tied else "top")
        elif r.key in top:
            out[r.key] = Placement(False, "below_min_score")
        elif r.key in held:
            out[r.key] = Placement(False, "tie_all_off")
        else:
            out[r.key] = Placement(False, "outside_top")
    return out


def service_stars(assessment: Assessment, ranked: list[Ranked], unscored: frozenset[int] = frozenset()) -> list[int]:
    """Keys of the service star(s) in rank order (rules in ``star_places``)."""
    places = star_places(assessment, ranked, unscored)
    return [r.key for r in _in_rank_order(ranked) if r.key in places and places[r.key].on]
