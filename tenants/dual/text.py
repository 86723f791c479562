"""Free text of 双报到 (titles, places, posts, roles, resources, reasons, notes, outcomes, work-unit fields) and its
evidence links: ``errors.text_problems`` (``nul``, ``surrogate``), no C0 control character (reason ``control``) and
no bidi control character (U+202A-202E embeddings and overrides, U+2066-2069 isolates, U+200E/U+200F/U+061C marks),
which make a name display as something it is not (reason ``bidi``). Every 双报到 service checks its free text here,
once."""

from __future__ import annotations

import re

from tenants.errors import Problem
from tenants.errors import text_problems as _common

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL; tab and line breaks are text


def bidi_problem(field: str, value: str, label_zh: str) -> list[Problem]:
    """Reason ``bidi`` when ``value`` holds a bidi control character, else nothing."""
    if BIDI.search(value):
        return [Problem(field, "bidi", f"{label_zh}含有改变文字方向的控制字符",
                        f"{field} contains a bidirectional control character")]
    return []


def control_problem(field: str, value: str, label_zh: str) -> list[Problem]:
    """Reason ``control`` when ``value`` holds a C0 control character (other than tab and line breaks) or DEL."""
    if CONTROL.search(value):
        return [Problem(field, "control", f"{label_zh}含有控制字符", f"{field} contains a control character")]
    return []


def text_problems(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    """``errors.text_problems`` (``nul``, ``surrogate``, ...), plus reason ``control`` for a C0 control character
    and ``bidi`` for a bidi control character: services check this, not only the GraphQL edge."""
    return (_common(field, value, label_zh, required=required, limit=limit) + control_problem(field, value, label_zh)
            + bidi_problem(field, value, label_zh))


PHONE = re.compile(r"\+?[0-9](?:[0-9 -]{0,30}[0-9])?")  # fullmatch: ASCII digits, spaces and hyphens, a leading +
PHONE_DIGITS = (5, 20)  # a short service number to an international number with an extension


def phone_problems(field: str, value: str) -> list[Problem]:
    """Reason ``phone`` unless ``value`` (stripped; empty is fine) is a phone number: 5-20 ASCII digits, spaces or
    hyphens between them, a leading + (``13800138000``, ``0539-1234567-8001``, ``+86 138 0013 8000``)."""
    value = value.strip()
    digits = sum(c.isdigit() for c in value)
    if not value or (PHONE.fullmatch(value) and PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]):
        return []
    return [Problem(field, "phone", "联系电话须为 5-20 位数字，可含空格、连字符和开头的 +",
                    f"{field} is a phone number: 5-20 digits, spaces or hyphens between them, a leading +")]
