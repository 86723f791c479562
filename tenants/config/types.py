"""Shared field types of the configuration document: codes, titles, percents, money in fen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Strict(BaseModel):
    """Base of every document model: unknown keys are errors and no type is coerced ("70" is not 70)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # "09:00" (pydantic's regex: $ is the end of the text)
ClockTime = Annotated[str, StringConstraints(pattern=CLOCK_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Percent = Annotated[int, Field(ge=0, le=100)]
Score = Annotated[int, Field(ge=0, le=100)]  # ratings are on a 0-100 scale
Fen = Annotated[int, Field(ge=0)]  # money: integer fen 分, never floats
Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Cadence = Literal["monthly", "quarterly"]
