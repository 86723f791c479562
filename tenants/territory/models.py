"""The territory tree. Ids are stable across renames and moves; codes are unique within their parent.

Each level keeps the ids of all its ancestors, so a data-scope filter ("inside street 12") is one indexed
column test at any depth, never a walk up the tree. A move rewrites those columns for the whole subtree in
set-based UPDATEs (see service.move_area).
"""

from __future__ import annotations

from tortoise import fields

from tenants.models import Stamped, TenantModel


class Area(TenantModel, Stamped):
    """Common columns of every territory level."""

    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)

    class Meta:
        abstract = True


class Street(Area):  # 街道
    class Meta:
        table = "street"
        unique_together = (("tenant_id", "code"),)


class Community(Area):  # 社区
    street_id = fields.BigIntField()

    class Meta:
        table = "community"
        unique_together = (("tenant_id", "street_id", "code"),)


class Grid(Area):  # 网格
    street_id = fields.BigIntField()
    community_id = fields.BigIntField()

    class Meta:
        table = "grid"
        unique_together = (("tenant_id", "community_id", "code"),)
        indexes = (("tenant_id", "street_id"),)


class Compound(Area):  # 小区/楼院
    street_id = fields.BigIntField()
    community_id = fields.BigIntField()
    grid_id = fields.BigIntField()
    address = fields.CharField(max_length=300, default="")

    class Meta:
        table = "compound"
        unique_together = (("tenant_id", "grid_id", "code"),)
        indexes = (("tenant_id", "street_id"), ("tenant_id", "community_id"))


class Building(Area):  # 楼栋
    street_id = fields.BigIntField()
    community_id = fields.BigIntField()
    grid_id = fields.BigIntField()
    compound_id = fields.BigIntField()

    class Meta:
        table = "building"
        unique_together = (("tenant_id", "compound_id", "code"),)
        indexes = (("tenant_id", "street_id"), ("tenant_id", "community_id"), ("tenant_id", "grid_id"))


class Household(Area):  # 户
    street_id = fields.BigIntField()
    community_id = fields.BigIntField()
    grid_id = fields.BigIntField()
    compound_id = fields.BigIntField()
    building_id = fields.BigIntField()

    class Meta:
        table = "household"
        unique_together = (("tenant_id", "building_id", "code"),)
        indexes = (
            ("tenant_id", "street_id"),
            ("tenant_id", "community_id"),
            ("tenant_id", "grid_id"),
            ("tenant_id", "compound_id"),
        )


# Top-down; each level's parent is the one before it, and its ancestor columns are all the levels before it.
LEVELS: tuple[type[Area], ...] = (Street, Community, Grid, Compound, Building, Household)
LEVEL_NAMES: tuple[str, ...] = ("street", "community", "grid", "compound", "building", "household")
MODEL_BY_LEVEL: dict[str, type[Area]] = dict(zip(LEVEL_NAMES, LEVELS, strict=True))


def parent_level(level: str) -> str | None:
    i = LEVEL_NAMES.index(level)
    return LEVEL_NAMES[i - 1] if i else None


def ancestor_levels(level: str) -> tuple[str, ...]:
    return LEVEL_NAMES[: LEVEL_NAMES.index(level)]
