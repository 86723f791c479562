"""The scoped base for every tenant-owned model: reads are filtered and writes stamped from the scope."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model, ModelMeta
from tortoise.queryset import QuerySet

from tenants.scope import current_tenant_id


class TenantManager(Manager):
    """Every query starts filtered to the tenant in scope, and fails closed without one."""

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().filter(tenant_id=current_tenant_id())


class Stamped:
    """Mixin for a model whose rows the ORM stamps: ``created_at`` on insert, ``updated_at`` on every save."""

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)


class TenantModelMeta(ModelMeta):
    """Gives every concrete tenant model the scoped manager: Tortoise does not inherit ``Meta.manager``."""

    def __new__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> ModelMeta:
        meta = attrs.get("Meta")
        if meta is not None and not getattr(meta, "abstract", False) and not hasattr(meta, "manager"):
            meta.manager = TenantManager()
        return super().__new__(cls, name, bases, attrs)


class TenantModel(Model, metaclass=TenantModelMeta):
    """Base for tenant-owned rows: a ``tenant`` and a bigint ``id``, read through ``TenantManager``. Each subclass
    gets an RLS policy in its migration; ``tests/test_tenancy_rls.py`` checks both for every subclass."""

    tenant: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "civicgrid.Tenant", related_name=False, on_delete=fields.RESTRICT, db_index=False
    )
    tenant_id: int
    id = fields.BigIntField(primary_key=True)

    class Meta:
        abstract = True
        manager = TenantManager()

    async def save(self, *args: Any, **kwargs: Any) -> None:
        scoped = current_tenant_id()
        if self.tenant_id is None:
            self.tenant_id = scoped
        elif self.tenant_id != scoped:
            raise PermissionError("refusing to write a row of another tenant")
        await super().save(*args, **kwargs)

    @classmethod
    async def bulk_create(cls, objects: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        scoped = current_tenant_id()
        for obj in objects:
            if obj.tenant_id is None:
                obj.tenant_id = scoped
            elif obj.tenant_id != scoped:
                raise PermissionError("refusing to write a row of another tenant")
        return await super().bulk_create(objects, *args, **kwargs)
