"""Scores of one compound and of one property company from an ``Assessment`` section: pure, exact, explained.

Rules (every figure is on a 0-100 scale; arithmetic is exact, in integer ratios; rounding happens only at the end):

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

Rubric lines scored from records (``source`` other than "body", issue 19): the run fills them from
``CompoundInputs.sourced`` (joint-meeting compliance, decisions done on time; ``tenants.meetings.compliance``), never
from a sheet — points a body entered for such a line are ignored. The line scores ``max_points`` x the share
(clamped to 0-1), rounded to 0.01 half-up; the part's score is exact from those hundredths. A share without data
(None) scores 0, with the note ``no_meeting_data`` on the line and in the notes (not redistributed). The line sits
in its body's (or dimension's) part and counts when the part does; a part whose lines are all scored from records
counts without a sheet. Its breakdown item carries ``source``, ``share`` (percent, 2 places, None without data)
and its points as a 2-place string.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from tenants.assessment.ranking import Ranked, rank, red_black, service_stars
from tenants.config.assessment import Assessment, RubricItem

__all__ = [
    "CompoundInputs",
    "CompoundScore",
    "Ranked",
    "Scorer",
    "combine_company",
    "rank",
    "red_black",
    "score_compound",
    "service_stars",
]


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
    # Rubric line source -> the share its lines score (None: no data); only for lines scored from records.
    sourced: Mapping[str, Fraction | None] = field(default_factory=lambda: MappingProxyType({}))


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


def _hundredths(n: int, d: int) -> int:
    """``n / d`` (d > 0) in hundredths, rounded half away from zero (ROUND_HALF_UP)."""
    return (200 * n + d) // (2 * d) if n >= 0 else -((-200 * n + d) // (2 * d))


def _print(c: int) -> str:
    whole, part = divmod(abs(c), 100)
    return f"{'-' if c < 0 else ''}{whole}.{part:02d}"


_PRINTED = [_print(c) for c in range(10_001)]


def _fmt(c: int) -> str:
    """Hundredths as a Decimal with two places prints them: ``-0.05``, ``0.00``, ``100.00``."""
    return _PRINTED[c] if 0 <= c <= 10_000 else _print(c)


def _dec(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)


@dataclass(frozen=True)
class _Part:
    """A body (weighted mode) or a dimension (三个百分百) before weighting; ``owner`` is the body whose sheet
    makes it count, ``items`` are (body, code, title, max points, source: None when a body enters the line)."""

    code: str
    title: str
    weight: int
    owner: str
    extra: dict[str, Any]
    items: tuple[tuple[str, str, str, int, str | None], ...]
    top: int  # the items' max points in all
    sourced: bool  # some line is scored from records
    records_only: bool  # every line is: the part counts without a sheet


def _parts(assessment: Assessment) -> tuple[str, list[_Part]]:
    def items(of: list[RubricItem]) -> tuple[tuple[str, str, str, int, str | None], ...]:
        return tuple((i.body, i.code, i.title, i.max_points, None if i.source == "body" else i.source) for i in of)

    def part(code: str, title: str, weight: int, owner: str, extra: dict, its: tuple) -> _Part:
        from_records = [i[4] is not None for i in its]
        return _Part(code, title, weight, owner, extra, its, sum(i[3] for i in its), any(from_records),
                     bool(its) and all(from_records))

    if assessment.mode == "weighted":
        return "bodies", [
            part(code, body.title, body.weight, code, {}, items([i for i in assessment.rubric if i.body == code]))
            for code, body in assessment.bodies.items()
        ]
    return "dimensions", [
        part(d.code, d.title, d.weight, d.owner, {"owner": d.owner},
             items([i for i in assessment.rubric if i.dimension == d.code]))
        for d in assessment.dimensions
    ]


def _share(value: Fraction | None, top: int) -> tuple[int, str | None]:
    """A line scored from records: its points in hundredths (``top`` x the share, clamped to 0-1, half-up) and the
    share in percent (None without data)."""
    if value is None:
        return 0, None
    share = min(max(Fraction(value), Fraction(0)), Fraction(1))
    return _hundredths(top * share.numerator, share.denominator), _fmt(_hundredths(100 * share.numerator,
                                                                                     share.denominator))


class Scorer:
    """``score_compound`` for the compounds of one run: what depends only on the assessment (parts, rubric
    items, weights, shares) is worked out once, and every figure is an exact integer ratio (no ``Fraction``
    normalisation per operation). Same rules, same results, byte for byte."""

    def __init__(self, assessment: Assessment) -> None:
        self.mode = assessment.mode
        self.missing_zero = assessment.missing_body == "zero"
        self.missing_body = assessment.missing_body
        self.key, self.parts = _parts(assessment)
        # One denominator for every part score: 100 x got / top = 100 x got x (lcm / top) / lcm.
        self.lcm = math.lcm(*(p.top for p in self.parts if p.top)) if any(p.top for p in self.parts) else 1
        o = assessment.objective
        w = o.weights
        self.rate_weights = (
            ("closure_rate", w.closure_rate),
            ("satisfaction_rate", w.satisfaction_rate),
            ("on_time_rate", w.on_time_rate),
        )
        self.volume_weight = w.monthly_ticket_volume
        self.full, self.zero = o.volume_full_marks_at, o.volume_zero_marks_at
        self.body_share = assessment.final_score.body_share
        self.objective_share = assessment.final_score.objective_share
        f = assessment.supervisor_findings
        self.findings_enabled = f.enabled
        self.in_time_points, self.late_points, self.max_points = (
            f.resolved_points_per_finding,
            f.points_per_finding,
            f.max_points_per_period,
        )

    def _volume(self, tickets: Decimal) -> tuple[int, int]:
        """The volume score as (numerator, denominator) for ``tickets`` a month."""
        n, d = tickets.as_integer_ratio()
        if n <= self.full * d:
            return 100, 1
        if n >= self.zero * d:
            return 0, 1
        return 100 * (self.zero * d - n), d * (self.zero - self.full)

    def __call__(self, inputs: CompoundInputs) -> CompoundScore:
        notes: list[str] = []
        subs = inputs.submissions
        parts = self.parts
        lcm = self.lcm

        # Per part: None = missing and left out, else the points awarded in hundredths.
        got: list[int | None] = []
        awarded: list[list[Any] | None] = []
        shares: list[list[str | None] | None] = []
        sourced = inputs.sourced
        no_data = False
        for part in parts:
            if part.owner not in subs and not part.records_only:
                got.append(0 if self.missing_zero else None)
                awarded.append(None)
                shares.append(None)
                continue
            if not part.sourced:
                points = [min(max(subs.get(body, {}).get(code, 0), 0), top) for body, code, _, top, _ in part.items]
                got.append(100 * sum(points) if part.top else 0)
                awarded.append(points)
                shares.append(None)
                continue
            hundredths = 0
            shown: list[int | str] = []
            percents: list[str | None] = []
            for body, code, _, top, source in part.items:
                if source is None:
                    p = min(max(subs.get(body, {}).get(code, 0), 0), top)
                    hundredths += 100 * p
                    shown.append(p)
                    percents.append(None)
                else:
                    c, percent = _share(sourced.get(source), top)
                    no_data = no_data or percent is None
                    hundredths += c
                    shown.append(_fmt(c))
                    percents.append(percent)
            got.append(hundredths if part.top else 0)
            awarded.append(shown)
            shares.append(percents)
        body_weight = sum(p.weight for p, g in zip(parts, got, strict=True) if g is not None)
        # body part = bn / bd
        if body_weight == 0:
            notes.append("no_body_scores")
            bn, bd = 0, 1
        else:
            bn = sum(p.weight * g * (lcm // p.top) for p, g in zip(parts, got, strict=True) if g is not None and p.top)
            bd = body_weight * lcm

        # Objective inputs as (name, weight, numerator, denominator) with value None as numerator None.
        objective: list[tuple[str, int, int | None, int]] = []
        for (name, weight), bp in zip(
            self.rate_weights,
            (inputs.closure_rate_bp, inputs.satisfaction_rate_bp, inputs.on_time_rate_bp),
            strict=True,
        ):
            objective.append((name, weight, None if bp is None else min(max(bp, 0), 10_000), 100))
        tickets = inputs.tickets_per_month
        if tickets is None:
            objective.append(("monthly_ticket_volume", self.volume_weight, None, 1))
            observed_volume = None
        else:
            vn, vd = self._volume(tickets)
            objective.append(("monthly_ticket_volume", self.volume_weight, vn, vd))
            tn, td = tickets.as_integer_ratio()
            observed_volume = _fmt(_hundredths(tn, td))
        objective_weight = sum(weight for _, weight, n, _ in objective if n is not None)
        # objective part = on / od
        if objective_weight == 0:
            notes.append("no_objective_data")
            on, od = None, 1
        else:
            common = math.lcm(*(d for _, _, n, d in objective if n is not None))
            on = sum(weight * n * (common // d) for _, weight, n, d in objective if n is not None)
            od = objective_weight * common

        body_share, objective_share = self.body_share, self.objective_share
        if on is None:
            body_share, objective_share = body_share + objective_share, 0

        lines = 0
        part_rows = []
        late_bodies = inputs.late_bodies
        for part, g, sheet, line_shares in zip(parts, got, awarded, shares, strict=True):
            if g is not None and body_weight > 0:
                eff = _fmt(_hundredths(body_share * part.weight, body_weight))
                contribution = (
                    _hundredths(body_share * part.weight * g, body_weight * part.top * 100) if part.top else 0
                )
            else:
                eff, contribution = "0.00", 0
            lines += contribution
            part_rows.append(
                {
                    "code": part.code,
                    "title": part.title,
                    **part.extra,
                    "weight": part.weight,
                    "effective_weight": eff,
                    "submitted": part.owner in subs,
                    "late_entry": part.owner in late_bodies,
                    "score": None if g is None else (_fmt(_hundredths(g, part.top)) if part.top else "0.00"),
                    "contribution": _fmt(contribution),
                    "items": _items(part, sheet, line_shares),
                }
            )

        objective_rows = []
        for name, weight, n, d in objective:
            if n is not None and on is not None:
                eff = _fmt(_hundredths(objective_share * weight, objective_weight))
                contribution = _hundredths(objective_share * weight * n, objective_weight * d * 100)
            else:
                eff, contribution = "0.00", 0
            lines += contribution
            value = None if n is None else _fmt(_hundredths(n, d))
            objective_rows.append(
                {
                    "input": name,
                    "observed": observed_volume if name == "monthly_ticket_volume" else value,
                    "value": value,
                    "weight": weight,
                    "effective_weight": eff,
                    "contribution": _fmt(contribution),
                }
            )

        if late_bodies:
            notes.append("late_entry")
        if no_data:
            notes.append(NO_MEETING_DATA)
        in_time = sum(1 for resolved in inputs.findings if resolved)
        deductions = 0
        if self.findings_enabled:
            uncapped = in_time * self.in_time_points + (len(inputs.findings) - in_time) * self.late_points
            deductions = min(uncapped, self.max_points)
            if uncapped > self.max_points:
                notes.append("findings_capped")
        lines -= 100 * deductions

        # before = (body_share x bn/bd + objective_share x on/od) / 100 = before_n / before_d
        before_n = body_share * bn * od + objective_share * (on or 0) * bd
        before_d = 100 * bd * od
        exact_n = before_n - deductions * before_d
        if exact_n < 0:
            final = 0
        elif exact_n > 100 * before_d:
            final = 10_000
        else:
            final = _hundredths(exact_n, before_d)
        adjustments = []
        if final != lines:
            reason = "rounding" if 0 <= exact_n <= 100 * before_d else "clamp"
            adjustments.append({"reason": reason, "contribution": _fmt(final - lines)})

        body_c = _hundredths(bn, bd)
        objective_c = None if on is None else _hundredths(on, od)
        breakdown = {
            "mode": self.mode,
            "missing_body": self.missing_body,
            "body_share": body_share,
            "objective_share": objective_share,
            self.key: part_rows,
            "body_part": _fmt(body_c),
            "objective": objective_rows,
            "objective_part": None if objective_c is None else _fmt(objective_c),
            "before_deductions": _fmt(_hundredths(before_n, before_d)),
            "deductions": {
                "enabled": self.findings_enabled,
                "findings": len(inputs.findings),
                "in_time": in_time,
                "points": _fmt(100 * deductions),
                "contribution": _fmt(-100 * deductions),
            },
            "adjustments": adjustments,
            "notes": notes,
            "score": _fmt(final),
        }
        return CompoundScore(
            compound_id=inputs.compound_id,
            score=_dec(final),
            body_part=_dec(body_c),
            objective_part=None if objective_c is None else _dec(objective_c),
            deductions=_dec(100 * deductions),
            breakdown=breakdown,
            scored=bool(subs),
        )


NO_MEETING_DATA = "no_meeting_data"


def _items(part: _Part, sheet: list[Any] | None, percents: list[str | None] | None) -> list[dict]:
    """A part's rubric lines in its breakdown: points as entered (None: no sheet); a line scored from records
    also names its source and share, its points as a 2-place string."""
    rows: list[dict] = []
    for n, (_, code, title, top, source) in enumerate(part.items):
        row: dict[str, Any] = {"code": code, "title": title, "points": None if sheet is None else sheet[n],
                               "max_points": top}
        if source is not None:
            share = None if percents is None else percents[n]
            row |= {"source": source, "share": share}
            if sheet is not None and share is None:
                row["note"] = NO_MEETING_DATA
        rows.append(row)
    return rows


def score_compound(assessment: Assessment, inputs: CompoundInputs) -> CompoundScore:
    """The compound's score for the period under ``assessment`` (the module docstring has the rules); for many
    compounds under one assessment, make one ``Scorer`` and call it for each."""
    return Scorer(assessment)(inputs)


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
    # Exact in integers: each score is n / d, the mean sum(w x n / d) / total over one common denominator.
    ratios = [cs.score.as_integer_ratio() for cs, _ in parts]
    common = math.lcm(*(d for _, d in ratios))
    score_c = _hundredths(sum(w * n * (common // d) for w, (n, d) in zip(weights, ratios, strict=True)), common * total)
    score = _dec(score_c)
    rows = []
    lines = 0
    for (cs, fee), w, (n, d) in zip(parts, weights, ratios, strict=True):
        contribution = _hundredths(w * n, total * d)
        lines += contribution
        rows.append(
            {
                "compound_id": cs.compound_id,
                "fee_fen": fee,
                "weight": _fmt(_hundredths(100 * w, total)),
                "score": str(cs.score),
                "contribution": _fmt(contribution),
            }
        )
    adjustments = [{"reason": "rounding", "contribution": _fmt(score_c - lines)}] if score_c != lines else []
    breakdown = {
        "mode": mode,
        "weighting": weighting,
        "compounds": rows,
        "adjustments": adjustments,
        "score": str(score),
    }
    return score, breakdown
