"""The tenant itself: a platform-level row, visible to its own scope and to the platform path."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from tenants.models import Stamped


class Tenant(Model, Stamped):
    """A city 市 or a county/district 县/区; a district may sit under its city (``parent``)."""

    id = fields.BigIntField(primary_key=True)
    slug = fields.CharField(max_length=63, unique=True)
    name = fields.CharField(max_length=200)
    parent: fields.ForeignKeyNullableRelation[Tenant] = fields.ForeignKeyField(
        "civicgrid.Tenant", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    timezone = fields.CharField(max_length=64, default="Asia/Shanghai")
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "tenant"
