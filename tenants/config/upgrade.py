"""Documents stored under an earlier schema, brought to today's: defaults for the fields added since.

Configuration versions are immutable rows (migration 0016 lets the database change nothing else), so a document
stored before a field existed is upgraded where it is read: ``effective`` applies ``upgrade`` to the merged chain
before validating it. Only what is missing is filled; a value a tenant set is never changed.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

# Fields added after documents were stored, with the value that keeps the behaviour from before they existed.
ADDED: tuple[tuple[str, str, Any], ...] = (
    ("files", "keep_location", False),  # uploads: photos lose their location unless a tenant keeps it
    ("files", "unattached_retention_hours", 24),  # uploads never attached are deleted after a day
    ("open311", "publish_descriptions", False),  # Open311 published no description before the setting
)

# Added with the assessment (f1b8049): how a company's score combines its compounds'; every preset weighs them by
# the annual fee receivable, and it was the only way before the field existed.
COMPANY_COMBINATION = "fee_receivable"


@functools.cache
def preset_body_roles() -> dict[str, list[str]]:
    """Roles of each assessor body code as the shipped presets define it (added in fa0643b); presets agree."""
    from tenants.presets import load_preset, preset_names  # the presets build on merge, which builds on this

    roles: dict[str, list[str]] = {}
    for name in preset_names():
        bodies = load_preset(name).overrides.get("assessment", {}).get("bodies", {})
        for code, body in bodies.items():
            if isinstance(body, dict) and "roles" in body:
                roles.setdefault(code, list(body["roles"]))
    return roles


def upgrade(document: Any) -> tuple[Any, list[str]]:
    """``document`` with defaults for fields added after it was stored, and the dotted paths it filled."""
    if not isinstance(document, dict):
        return document, []
    upgraded = copy.deepcopy(document)
    filled: list[str] = []
    for section, key, default in ADDED:
        part = upgraded.setdefault(section, {})
        if isinstance(part, dict) and key not in part:
            part[key] = default
            filled.append(f"{section}.{key}")
    if not isinstance(upgraded.get("assessment"), dict):
        return upgraded, filled
    assessment = upgraded["assessment"]
    if "company_combination" not in assessment:
        assessment["company_combination"] = COMPANY_COMBINATION
        filled.append("assessment.company_combination")
    bodies = assessment.get("bodies")
    if isinstance(bodies, dict):
        known = preset_body_roles()
        for code, body in bodies.items():
            # A body of a code no preset knows stays as it is: validation asks for its roles.
            if isinstance(body, dict) and "roles" not in body and code in known:
                body["roles"] = list(known[code])
                filled.append(f"assessment.bodies.{code}.roles")
    return upgraded, filled
