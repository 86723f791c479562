"""Inheritance of configuration down the tenant chain, the source of every value, diffs and validation."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from tenants.config.checks import cross_checks
from tenants.config.document import ConfigDocument
from tenants.config.problems import from_error, from_validation_error
from tenants.errors import InvalidInput, Problem


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` over ``base``: mappings merge key by key, anything else (lists too) replaces; None is "not set".

    Neither argument is changed; the result shares no mutable value with them.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, dict):
            below = merged.get(key)
            merged[key] = deep_merge(below if isinstance(below, dict) else {}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def flatten(doc: dict) -> dict[str, object]:
    """Dotted leaf paths to values; a list is one leaf, an empty mapping has none."""
    leaves: dict[str, object] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, f"{path}.")
            else:
                leaves[path] = value

    walk(doc, "")
    return leaves


def diff(before: dict, after: dict) -> list[dict]:
    """Changed leaves sorted by path, as ``{"path", "before", "after"}``; a missing side reads as None."""
    old, new = flatten(before), flatten(after)
    return [
        {"path": path, "before": old.get(path), "after": new.get(path)}
        for path in sorted(old.keys() | new.keys())
        if not _same(old.get(path, _ABSENT), new.get(path, _ABSENT))
    ]


_ABSENT = object()


def _same(a: object, b: object) -> bool:
    # Types matter: True == 1 in Python, but flipping a flag to a number is a change.
    return type(a) is type(b) and a == b


def _problems(raw: Any) -> tuple[ConfigDocument | None, list[Problem]]:
    try:
        doc = ConfigDocument.model_validate(raw)
    except ValidationError as exc:
        return None, [*from_validation_error(exc), *cross_checks(raw)]
    return doc, cross_checks(raw)


def validate_document(raw: dict) -> ConfigDocument:
    """A full document, validated; InvalidInput lists every problem (fields first, then cross-field rules)."""
    data = deep_merge({}, raw) if isinstance(raw, dict) else raw
    doc, problems = _problems(data)
    if problems or doc is None:
        raise InvalidInput.of(problems)
    return doc


def check_overrides(raw: dict) -> list[Problem]:
    """Structural problems of a partial (override) document: unknown keys and wrong types or ranges, by path.

    Keys may be missing from mappings, since they are inherited. A list replaces the inherited one whole, so
    each of its items must be complete. Rules across fields wait for the merged document.
    """
    data = deep_merge({}, raw) if isinstance(raw, dict) else raw
    try:
        ConfigDocument.model_validate(data)
    except ValidationError as exc:
        return [
            from_error(e)
            for e in exc.errors(include_url=False)
            if not (e["type"] == "missing" and not any(isinstance(part, int) for part in e["loc"]))
        ]
    return []


def effective(chain: list[tuple[str, dict]]) -> tuple[ConfigDocument, dict[str, str]]:
    """Merge the chain (root city first, the tenant last) into a validated document, with each leaf's source.

    Provenance maps every leaf path of the result to the slug of the deepest tenant that set it.
    """
    merged: dict = {}
    setter: dict[str, str] = {}
    for slug, own in chain:
        merged = deep_merge(merged, own)
        for path in flatten(deep_merge({}, own)):
            setter[path] = slug
    doc = validate_document(merged)
    return doc, {path: setter.get(path, "default") for path in flatten(merged)}
