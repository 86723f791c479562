"""Stored configuration: each change of a tenant's own overrides is a new, numbered, immutable version."""

from __future__ import annotations

from tortoise import fields

from tenants.config.upgrade import SCHEMA_VERSION, UNVERSIONED
from tenants.models import TenantModel


class ConfigVersion(TenantModel):
    """A tenant's own configuration (only what it sets; the rest is inherited) from ``effective_from`` on.

    The version in force on a day is the highest-numbered one whose ``effective_from`` is on or before it.
    A district may read its city's versions (row-level security allows the parent tenant for reading only).
    """

    # ... leaving out withdrawn versions: a scheduled version may be withdrawn (or replaced) before its day. The
    # row stays, marked; the database allows no other change, none once its day has come, and no deletion (0016).

    version_no = fields.IntField()
    overrides: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    effective_from = fields.DateField()
    author = fields.CharField(max_length=128)
    comment = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    withdrawn_at = fields.DatetimeField(null=True)
    withdrawn_by = fields.CharField(max_length=128, null=True)
    withdrawal_reason = fields.CharField(max_length=500, null=True)
    replaced_by = fields.IntField(null=True)  # version_no of the version that replaced it
    # The document's shape (tenants/config/upgrade.py); a release that does not name it wrote the database default.
    schema_version = fields.SmallIntField(default=SCHEMA_VERSION, db_default=UNVERSIONED)

    class Meta:
        table = "config_version"
        unique_together = (("tenant_id", "version_no"),)
        indexes = (("tenant_id", "effective_from"),)
