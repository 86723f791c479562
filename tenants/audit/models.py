from __future__ import annotations

from tortoise import fields

from tenants.models import TenantModel


class AuditEntry(TenantModel):
    """Who changed what, when. The application role may insert but never update or delete these rows."""

    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=64)
    target_id = fields.CharField(max_length=64)
    details: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        indexes = (("tenant_id", "at", "id"), ("tenant_id", "target_type", "target_id"))
