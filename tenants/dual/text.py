"""Free text of 双报到 (titles, places, posts, roles, resources, reasons): ``errors.text_problems`` and no bidi
override or isolate characters (U+202A-202E, U+2066-2069), which make a name display as something it is not
(reason ``bidi``)."""

from __future__ import annotations

import re

from tenants.errors import Problem
from tenants.errors import text_problems as _common

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def text_problems(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    """``errors.text_problems``, plus reason ``bidi`` for a bidi override or isolate character."""
    found = _common(field, value, label_zh, required=required, limit=limit)
    if BIDI.search(value):
        found.append(Problem(field, "bidi", f"{label_zh}含有改变文字方向的控制字符",
                             f"{field} contains a bidirectional override or isolate character"))
    return found
