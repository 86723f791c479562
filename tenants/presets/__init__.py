"""Configuration presets of the source cities, one TOML file each (``zhangjiakou.toml`` ...).

A file holds a ``[preset]`` table (``title``, and ``parent`` for a district) and the document: complete for a
root preset, only the overrides for a child. Numbers from the source reports are marked "report" in the files;
the rest are chosen defaults, marked as such.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tenants.config.merge import deep_merge
from tenants.errors import NotFound


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    parent: str | None
    overrides: dict[str, Any]


class UnknownPreset(NotFound, KeyError):
    """No preset of that name; a KeyError too, so dictionary-style callers can catch it."""

    def __init__(self, name: str) -> None:
        known = ", ".join(preset_names())
        super().__init__(f"没有名为 {name} 的预设（可选：{known}）", f"no preset named {name!r} (known: {known})")

    def __str__(self) -> str:
        return self.message_en


def _files() -> dict[str, Any]:
    return {f.name.removesuffix(".toml"): f for f in resources.files(__name__).iterdir() if f.name.endswith(".toml")}


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(_files())


def load_preset(name: str) -> Preset:
    """The preset called ``name``; UnknownPreset if there is none."""
    source = _files().get(name)
    if source is None:
        raise UnknownPreset(name)
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    meta = data.pop("preset", {})
    return Preset(name=name, title=meta["title"], parent=meta.get("parent"), overrides=data)


def preset_chain(name: str) -> list[Preset]:
    """The preset and its ancestors, root first: the order ``effective`` expects."""
    chain = [load_preset(name)]
    while chain[0].parent is not None:
        chain.insert(0, load_preset(chain[0].parent))
    return chain


def preset_document(name: str) -> dict[str, Any]:
    """The preset merged over its ancestors (unvalidated): the whole document for a tenant created without them."""
    merged: dict[str, Any] = {}
    for preset in preset_chain(name):
        merged = deep_merge(merged, preset.overrides)
    return merged
