"""A stored file: where its bytes (and its thumbnail's) are, what they are, who uploaded it, what it is attached to."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class Purpose(StrEnum):
    """What a file is uploaded for; it may be attached only to that."""

    TICKET = "ticket"
    FINDING = "finding"
    MEETING = "meeting"
    ACTIVITY = "activity"


class StoredFile(TenantModel):
    """An uploaded image: its storage keys, sniffed type, size and dimensions, uploader and attachment."""

    key = fields.CharField(max_length=200)
    thumbnail_key = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=32)
    thumbnail_type = fields.CharField(max_length=32)
    size = fields.IntField()
    width = fields.IntField()
    height = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200, default="")
    purpose = fields.CharEnumField(Purpose, max_length=16)
    uploaded_by = fields.CharField(max_length=128)
    uploaded_at = fields.DatetimeField()
    location_kept = fields.BooleanField(default=False)
    attached_kind = fields.CharField(max_length=16, null=True)
    attached_id = fields.BigIntField(null=True)
    attached_at = fields.DatetimeField(null=True)

    class Meta:
        table = "stored_file"
        indexes = (("tenant_id", "uploaded_by", "uploaded_at"), ("tenant_id", "attached_kind", "attached_id"))
