"""Meeting compliance and decisions done on time per compound: the inputs of the rubric lines scored from records.

The contract the rating run reads (``tenants.assessment.inputs``; issue 19 part A defines it, part B fills it):

``await rubric_inputs(period_key, compound_ids)`` runs inside the rating run's transaction, with the tenant in
scope, for ``period_key`` the assessment period (``tenants.periods``: "2026-11", "2026Q4", "2026") and
``compound_ids`` every compound under contract in it (thousands in a city: one set-based statement over an array of
ids, robust on tables without statistics). It returns, per ``(compound id, source)``, a ``Fraction`` in [0, 1]:

- ``"meeting_compliance"``: the share of the meeting periods (``party.joint_meeting.cadence``) ending within the
  assessment period in which the compound's meeting series held a meeting — its own series at ``level =
  "compound"``, its community's at ``"community"``. A month with a meeting is 1, without one 0.
- ``"decisions_on_time"``: of the decisions of those meetings due within the assessment period, the share done on
  or before their due day.

A pair that is absent, or None, means no record to judge by (no meeting series for the compound, no decision due
in the period): the line scores 0 with the note ``no_meeting_data`` (its points are not spread over the other
lines). Values outside [0, 1] are clamped by the scorer. Pairs of sources the caller did not ask about may be left
out; extra pairs are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

RecordSource = Literal["meeting_compliance", "decisions_on_time"]
SOURCES: tuple[RecordSource, ...] = ("meeting_compliance", "decisions_on_time")


async def rubric_inputs(period_key: str, compound_ids: Sequence[int]) -> dict[tuple[int, str], Fraction | None]:
    """Per (compound id, source) the share its rubric line scores in ``period_key`` (the module docstring has the
    contract). Until meetings are recorded there is no data for any compound."""
    return {}
