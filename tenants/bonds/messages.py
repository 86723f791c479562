"""How a bond's messages word money and days, in Chinese."""

from __future__ import annotations

from datetime import date


def yuan(fen: int) -> str:
    """12345678 -> '123,456.78 元' (exact: integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d} 元"


def day_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
