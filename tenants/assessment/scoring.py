"""Scores of one compound and of one property company from an ``Assessment`` section: pure, exact, explained.

Rules (every figure is on a 0-100 scale; arithmetic is exact with ``Fraction``, rounding happens only at the end):

- Rubric points are clamped to ``[0, max_points]``; an item a submitting body left out counts 0; points for codes
  that are not on the body's rubric are ignored.
- ``weighted`` mode: a body's score = 100 x its awarded points / its items' max points. Body part =
  sum(weight x score) / sum(weight) over the bodies that count.
- ``three_hundred_percent`` mode (三个百分百): the same per dimension, from the rubric items of that dimension,
  with the dimension weights; the dimension is missing when its owner body did not submit.
- A missing body (or dimension): ``missing_body = "redistribute"`` leaves it out, so the weights are renormalised
  over the others; ``"zero"`` counts it with score 0. When nothing counts (no body submitted, or only bodies of
  weight 0) the body part is 0 and the breakdown notes ``no_body_scores``.
- Objective part: closure, satisfaction and on-time rates in percent (basis points / 100, clamped to 0-100);
  ticket volume scores 100 at or below ``volume_full_marks_at``, 0 at or above ``volume_zero_marks_at``, linear in
  between. Weighted by ``objective.weights``; an input without data (None) is left out and its weight spread over
  the others. When no input has data, or the inputs with data weigh 0 in total, the objective part is None
  (note ``no_objective_data``) and its share moves to the body share: the score is then the body part.
- Before deductions = (body_share x body part + objective_share x objective part) / 100.
- Deductions (when ``supervisor_findings.enabled``): per finding ``resolved_points_per_finding`` if resolved in
  time, else ``points_per_finding``; at most ``max_points_per_period`` (note ``findings_capped``).
- Score = clamp(before deductions - deductions, 0, 100), rounded to 0.01 half-up.

A body whose counting sheet was entered late from paper (``late_bodies``) is marked ``late_entry`` on its line
(or on the lines of the dimensions it owns), with the note ``late_entry``; it counts like any other sheet.

Breakdown: every line carries its ``contribution`` to the score, rounded to 0.01 half-up: each body/dimension
(share x effective weight x score), each objective input, the deductions (negative), and ``adjustments``
(``rounding`` when the rounded lines miss the rounded score by a cent or so, ``clamp`` when the score was held
at 0). The contributions of all lines always sum to ``score`` exactly. ``effective_weight`` is the percent of
the final score a line carries after redistribution and shares, so contribution ~= score x effective_weight / 100.
Decimals are strings with 2 places; weights, points and counts are ints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tenants.assessment.ranking import Ranked, rank, red_black, service_stars
from tenants.config.assessment import Assessment, RubricItem

__all__ = [
    "CompoundInputs",
    "CompoundScore",
    "Ranked",
    "combine_company",
    "rank",
    "red_black",
    "score_compound",
    "service_stars",
]

HUNDRED = Fraction(100)


@dataclass(frozen=True)
class CompoundInputs:
    """Everything one compound's score needs for one period."""

    compound_id: int
    submissions: dict[str, dict[str, int]]  # body code -> rubric item code -> points (only bodies that submitted)
    closure_rate_bp: int | None  # basis points 0..10000; None = no ticket data for the period
    satisfaction_rate_bp: int | None
    on_time_rate_bp: int | None
    tickets_per_month: Decimal | None  # average tickets per month in the period; None = no data
    findings: list[bool]  # one per supervisor finding: True if resolved within the configured hours
    late_bodies: frozenset[str] = frozenset()  # bodies whose counting sheet was entered late from paper


@dataclass(frozen=True)
class CompoundScore:
    """A compound's score (0.00-100.00) with its parts and a breakdown whose contributions sum to ``score``."""

    compound_id: int
    score: Decimal
    body_part: Decimal
    objective_part: Decimal | None
    deductions: Decimal
    breakdown: dict
    scored: bool = True  # at least one body submitted a sheet


def cents(x: Fraction) -> Decimal:
    """``x`` rounded to 0.01, half away from zero (ROUND_HALF_UP), as a Decimal with exactly two places."""
    scaled = abs(x) * 100
    whole = math.floor(scaled + Fraction(1, 2))
    return Decimal(whole if x >= 0 else -whole).scaleb(-2)


def _s(x: Fraction) -> str:
    return str(cents(x))


@dataclass(frozen=True)
class _Part:
    """A body (weighted mode) or a dimension (三个百分百) before weighting."""

    code: str
    title: str
    weight: int
    items: list[RubricItem]
    submitted: bool
    extra: dict[str, Any]


def _parts(assessment: Assessment, submissions: dict[str, dict[str, int]]) -> tuple[str, list[_Part]]:
    if assessment.mode == "weighted":
        return "bodies", [
            _Part(
                code, body.title, body.weight, [i for i in assessment.rubric if i.body == code], code in submissions, {}
            )
            for code, body in assessment.bodies.items()
        ]
    return "dimensions", [
        _Part(
            d.code,
            d.title,
            d.weight,
            [i for i in assessment.rubric if i.dimension == d.code],
            d.owner in submissions,
            {"owner": d.owner},
        )
        for d in assessment.dimensions
    ]


def _awarded(item: RubricItem, submissions: dict[str, dict[str, int]]) -> int:
    return min(max(submissions.get(item.body, {}).get(item.code, 0), 0), item.max_points)


def _volume_score(assessment: Assessment, tickets: Decimal) -> Fraction:
    full = Fraction(assessment.objective.volume_full_marks_at)
    zero = Fraction(assessment.objective.volume_zero_marks_at)
    v = Fraction(tickets)
    if v <= full:
        return HUNDRED
    if v >= zero:
        return Fraction(0)
    return HUNDRED * (zero - v) / (zero - full)


def _objective_inputs(
    assessment: Assessment, inputs: CompoundInputs
) -> list[tuple[str, int, Fraction | None, str | None]]:
    """(input, weight, value 0-100 or None, observed figure as a string) for the four ticket-derived inputs."""
    w = assessment.objective.weights

    def rate(bp: int | None) -> Fraction | None:
        return None if bp is None else Fraction(min(max(bp, 0), 10_000), 100)

    rates = [
        ("closure_rate", w.closure_rate, rate(inputs.closure_rate_bp)),
        ("satisfaction_rate", w.satisfaction_rate, rate(inputs.satisfaction_rate_bp)),
        ("on_time_rate", w.on_time_rate, rate(inputs.on_time_rate_bp)),
    ]
    out: list[tuple[str, int, Fraction | None, str | None]] = [
        (name, weight, value, None if value is None else _s(value)) for name, weight, value in rates
    ]
    tickets = inputs.tickets_per_month
    volume = None if tickets is None else _volume_score(assessment, tickets)
    observed = None if tickets is None else _s(Fraction(tickets))
    out.append(("monthly_ticket_volume", w.monthly_ticket_volume, volume, observed))
    return out


def score_compound(assessment: Assessment, inputs: CompoundInputs) -> CompoundScore:
    """The compound's score for the period under ``assessment`` (the module docstring has the rules)."""
    notes: list[str] = []
    subs = inputs.submissions
    key, parts = _parts(assessment, subs)

    # Body (or dimension) scores; None = missing and left out.
    scores: list[Fraction | None] = []
    for part in parts:
        if not part.submitted:
            scores.append(Fraction(0) if assessment.missing_body == "zero" else None)
            continue
        top = sum(i.max_points for i in part.items)
        got = sum(_awarded(i, subs) for i in part.items)
        scores.append(HUNDRED * got / top if top else Fraction(0))
    body_weight = sum(p.weight for p, s in zip(parts, scores, strict=True) if s is not None)
    if body_weight == 0:
        notes.append("no_body_scores")
        body_part = Fraction(0)
    else:
        body_part = (
            sum((p.weight * s for p, s in zip(parts, scores, strict=True) if s is not None), Fraction(0)) / body_weight
        )

    objective = _objective_inputs(assessment, inputs)
    objective_weight = sum(weight for _, weight, value, _ in objective if value is not None)
    objective_part: Fraction | None = None
    if objective_weight == 0:
        notes.append("no_objective_data")
    else:
        objective_part = (
            sum((weight * value for _, weight, value, _ in objective if value is not None), Fraction(0))
            / objective_weight
        )

    body_share = assessment.final_score.body_share
    objective_share = assessment.final_score.objective_share
    if objective_part is None:
        body_share, objective_share = body_share + objective_share, 0

    lines: list[Decimal] = []
    part_rows = []
    for part, score in zip(parts, scores, strict=True):
        counts = score is not None and body_weight > 0
        eff = Fraction(body_share * part.weight, body_weight) if counts else Fraction(0)
        contribution = eff * score / HUNDRED if counts and score is not None else Fraction(0)
        lines.append(cents(contribution))
        part_rows.append(
            {
                "code": part.code,
                "title": part.title,
                **part.extra,
                "weight": part.weight,
                "effective_weight": _s(eff),
                "submitted": part.submitted,
                "late_entry": part.extra.get("owner", part.code) in inputs.late_bodies,
                "score": None if score is None else _s(score),
                "contribution": _s(contribution),
                "items": [
                    {
                        "code": i.code,
                        "title": i.title,
                        "points": _awarded(i, subs) if part.submitted else None,
                        "max_points": i.max_points,
                    }
                    for i in part.items
                ],
            }
        )

    objective_rows = []
    for name, weight, value, observed in objective:
        counts = value is not None and objective_part is not None
        eff = Fraction(objective_share * weight, objective_weight) if counts else Fraction(0)
        contribution = eff * value / HUNDRED if counts and value is not None else Fraction(0)
        lines.append(cents(contribution))
        objective_rows.append(
            {
                "input": name,
                "observed": observed,
                "value": None if value is None else _s(value),
                "weight": weight,
                "effective_weight": _s(eff),
                "contribution": _s(contribution),
            }
        )

    if inputs.late_bodies:
        notes.append("late_entry")
    findings = assessment.supervisor_findings
    in_time = sum(1 for resolved in inputs.findings if resolved)
    deductions = Fraction(0)
    if findings.enabled:
        late = len(inputs.findings) - in_time
        uncapped = in_time * findings.resolved_points_per_finding + late * findings.points_per_finding
        deductions = Fraction(min(uncapped, findings.max_points_per_period))
        if uncapped > findings.max_points_per_period:
            notes.append("findings_capped")
    lines.append(-cents(deductions))

    before = (body_share * body_part + objective_share * (objective_part or 0)) / HUNDRED
    exact = before - deductions
    final = cents(min(max(exact, Fraction(0)), HUNDRED))
    adjustments = []
    gap = final - sum(lines, Decimal("0.00"))
    if gap:
        reason = "rounding" if 0 <= exact <= HUNDRED else "clamp"
        adjustments.append({"reason": reason, "contribution": str(gap)})

    breakdown = {
        "mode": assessment.mode,
        "missing_body": assessment.missing_body,
        "body_share": body_share,
        "objective_share": objective_share,
        key: part_rows,
        "body_part": _s(body_part),
        "objective": objective_rows,
        "objective_part": None if objective_part is None else _s(objective_part),
        "before_deductions": _s(before),
        "deductions": {
            "enabled": findings.enabled,
            "findings": len(inputs.findings),
            "in_time": in_time,
            "points": _s(deductions),
            "contribution": _s(-deductions),
        },
        "adjustments": adjustments,
        "notes": notes,
        "score": str(final),
    }
    return CompoundScore(
        compound_id=inputs.compound_id,
        score=final,
        body_part=cents(body_part),
        objective_part=None if objective_part is None else cents(objective_part),
        deductions=cents(deductions),
        breakdown=breakdown,
        scored=bool(subs),
    )


def combine_company(
    assessment: Assessment, parts: list[tuple[CompoundScore, int]], *, mode: str
) -> tuple[Decimal, dict]:
    """A property company's score: the weighted mean of its compounds' scores, exact to 0.01, with a breakdown.

    ``parts`` are (compound score, annual fee receivable in fen). ``mode="fee_receivable"`` weighs each compound by
    its fee (all fees 0: equal weights, noted as ``"weighting": "equal"``); ``mode="equal"`` weighs them equally.
    The compound lines' contributions plus ``adjustments`` sum to the score exactly. Callers pass
    ``assessment.company_combination`` as ``mode``; ``assessment`` itself is not read.
    """
    if mode not in ("fee_receivable", "equal"):
        raise ValueError(f"unknown combination mode {mode!r}")
    if not parts:
        raise ValueError("a company score needs at least one compound")
    if any(fee < 0 for _, fee in parts):
        raise ValueError("fee receivable must not be negative")
    weighting = mode if mode == "equal" or any(fee for _, fee in parts) else "equal"
    weights = [fee if weighting == "fee_receivable" else 1 for _, fee in parts]
    total = sum(weights)
    exact = sum((Fraction(w) * Fraction(cs.score) for (cs, _), w in zip(parts, weights, strict=True)), Fraction(0))
    exact /= total
    score = cents(exact)
    rows = []
    lines = Decimal("0.00")
    for (cs, fee), w in zip(parts, weights, strict=True):
        contribution = cents(Fraction(w, total) * Fraction(cs.score))
        lines += contribution
        rows.append(
            {
                "compound_id": cs.compound_id,
                "fee_fen": fee,
                "weight": _s(Fraction(100 * w, total)),
                "score": str(cs.score),
                "contribution": str(contribution),
            }
        )
    adjustments = [{"reason": "rounding", "contribution": str(score - lines)}] if score != lines else []
    breakdown = {
        "mode": mode,
        "weighting": weighting,
        "compounds": rows,
        "adjustments": adjustments,
        "score": str(score),
    }
    return score, breakdown
