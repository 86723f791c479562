"""Cells of the files a finance office opens in Excel: numbers stay numbers, only text is guarded.

A row is a list of values: ``str`` is text (guarded against formula injection), ``int`` a whole number,
``Decimal`` a score or rate shown with two decimals, ``Yuan`` an amount in yuan (``#,##0.00``), ``datetime`` a
tenant-local time (naive). The same rows make the CSV (exact text: ``-4.00``, ``7500.00``) and the XLSX (numeric
cells with number formats, a bold frozen header, sized columns).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

SCORE_FORMAT = "0.00"
YUAN_FORMAT = "#,##0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm"


class Yuan(Decimal):
    """An amount in yuan, exact to the fen."""

    @classmethod
    def of(cls, fen: int) -> Yuan:
        return cls(Decimal(fen).scaleb(-2))  # 750000 -> 7500.00, -5 -> -0.05


def text(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula is kept as text; numbers are left alone."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def number(value: Any) -> Any:
    """A figure stored as a string in a breakdown ("-4.00") as a number; None as blank; anything else as text."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return text(str(value))
    if isinstance(value, int | Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return text(str(value))


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return text(value)


def csv_bytes(blocks: list[list[list[Any]]]) -> bytes:
    """Blocks of rows, a blank line between blocks, UTF-8 with a BOM so that Excel reads the Chinese text."""
    out = io.StringIO()
    w = csv.writer(out)
    for i, rows in enumerate(blocks):
        if i:
            w.writerow([])
        w.writerows([[_csv_value(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")


def _width(value: Any) -> int:
    shown = value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in shown)  # CJK characters are twice as wide


def new_book() -> Any:
    """An empty workbook (openpyxl's default sheet removed): add_sheet adds each sheet in order."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    return book


def add_sheet(book: Any, title: str, header: list[str], rows: list[list[Any]], above: list[Any] | None = None) -> None:
    """A sheet with an optional line above a bold, frozen header."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    if above:
        ws.append([text(v) for v in above])
    ws.append(header)
    header_row = ws.max_row
    bold = Font(bold=True)
    for cell in ws[header_row]:
        cell.font = bold
    widths = [_width(h) for h in header]
    for row in rows:
        ws.append([text(v) for v in row])
        for cell, value in zip(ws[ws.max_row], row, strict=False):
            if isinstance(value, Yuan):
                cell.number_format = YUAN_FORMAT
            elif isinstance(value, Decimal):
                cell.number_format = SCORE_FORMAT
            elif isinstance(value, datetime):
                cell.number_format = TIME_FORMAT
        for i, value in enumerate(row):
            if i < len(widths):
                widths[i] = max(widths[i], _width(value) + (3 if isinstance(value, Yuan) else 0))
    ws.freeze_panes = f"A{header_row + 1}"  # set last: ws.cell() would create a row that append() skips
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)


def xlsx_bytes(book: Any) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
