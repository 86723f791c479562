"""Stored configuration: each change of a tenant's own overrides is a new, numbered, immutable version."""

from __future__ import annotations

from tortoise import fields

from tenants.models import TenantManager, TenantModel


class ConfigVersion(TenantModel):
    """A tenant's own configuration (only what it sets; the rest is inherited) from ``effective_from`` on.

    The version in force on a day is the highest-numbered one whose ``effective_from`` is on or before it.
    A district may read its city's versions (row-level security allows the parent tenant for reading only).
    """

    id = fields.BigIntField(primary_key=True)
    version_no = fields.IntField()
    overrides: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    effective_from = fields.DateField()
    author = fields.CharField(max_length=128)
    comment = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "config_version"
        manager = TenantManager()
        unique_together = (("tenant_id", "version_no"),)
        indexes = (("tenant_id", "effective_from"),)
