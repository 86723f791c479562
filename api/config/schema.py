from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node
from tenants.audit import service as audit
from tenants.audit import service as audit_service
from tenants.audit.models import AuditEntry
from tenants.config import service as config
from tenants.config.models import ConfigVersion
from tenants.presets import load_preset, preset_names


@strawberry.type(description="One value of the effective configuration and the tenant it came from.")
class ConfigValue:
    path: str
    value: JSON
    source: str = strawberry.field(description="Slug of the tenant that set it, or 'default'.")


@strawberry.type
class VersionInForce:
    tenant: str
    version_no: int | None


@strawberry.type(description="The configuration in force on a day, merged from the city down to this tenant.")
class EffectiveConfig:
    on: date
    document: JSON
    versions: list[VersionInForce]
    _values: strawberry.Private[dict]
    _sources: strawberry.Private[dict]

    @strawberry.field(description="Every leaf value with its source; optionally only those under a path prefix.")
    def values(self, prefix: str | None = None) -> list[ConfigValue]:
        return [
            ConfigValue(path=p, value=v, source=self._sources[p])
            for p, v in self._values.items()
            if prefix is None or p == prefix or p.startswith(prefix + ".")
        ]


@strawberry.type(name="ConfigVersion", description="An immutable version of this tenant's own configuration; "
                 "a scheduled one may be withdrawn (or replaced) before it takes effect, and then never applies.")
class ConfigVersionType:
    version_no: int
    effective_from: date
    author: str
    comment: str
    created_at: datetime
    overrides: JSON = strawberry.field(
        description="What this tenant sets itself; the rest is inherited. A part of the configuration document, "
        "open by design, so JSON."
    )
    withdrawn_at: datetime | None = strawberry.field(description="When it was withdrawn (null: it was not).")
    withdrawn_by: str | None
    withdrawal_reason: str | None
    replaced_by: int | None = strawberry.field(description="The version that replaced it, if one did.")

    @classmethod
    def of(cls, v: ConfigVersion) -> ConfigVersionType:
        return cls(version_no=v.version_no, effective_from=v.effective_from, author=v.author, comment=v.comment,
                   created_at=v.created_at, overrides=v.overrides, withdrawn_at=v.withdrawn_at,
                   withdrawn_by=v.withdrawn_by, withdrawal_reason=v.withdrawal_reason, replaced_by=v.replaced_by)


@strawberry.type
class ConfigChange:
    path: str
    before: JSON | None
    after: JSON | None


@strawberry.type(name="AuditEntry")
class AuditEntryType(Node):
    readable = staticmethod(audit_service.readable)
    actor: str
    action: str
    target_type: str
    target_id: str
    details: JSON
    at: datetime

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryType:
        return cls(id=strawberry.ID(str(e.id)), actor=e.actor, action=e.action, target_type=e.target_type,
                   target_id=e.target_id, details=e.details, at=e.at)


@strawberry.type(name="Preset")
class PresetType:
    name: str
    title: str
    parent: str | None


@strawberry.input
class ChangeConfigInput:
    set: JSON | None = strawberry.field(
        default=None, description="Values to set, deep-merged into your own (configuration values: JSON)."
    )
    unset: list[str] | None = strawberry.field(default=None, description="Dotted paths to inherit again.")
    replace: JSON | None = strawberry.field(
        default=None, description="Your whole own document instead (a configuration document: JSON)."
    )
    effective_from: date | None = strawberry.field(default=None, description="Today (tenant-local) or later.")
    comment: str = ""
    replaces: int | None = strawberry.field(
        default=None, description="A scheduled version (the latest, not yet in force) this one replaces: it is "
        "withdrawn, and set/unset apply to it.")


@strawberry.type
class ConfigQuery:
    @strawberry.field(description="The configuration in force on a day (today by default), each value with its source.")
    async def effective_config(self, info: Info, on: date | None = None) -> EffectiveConfig:
        eff = await config.read_effective_config(access=await info.context.access(), on=on)
        return EffectiveConfig(
            on=eff.on, document=eff.document.model_dump(mode="json"),
            versions=[VersionInForce(tenant=t, version_no=n) for t, n in eff.versions.items()],
            _values=eff.values, _sources=eff.sources,
        )

    @strawberry.field(description="This tenant's configuration versions, newest first.")
    async def config_versions(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[ConfigVersionType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: config.list_versions(access=access, window=w), ConfigVersionType.of,
            first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="What changed in this tenant's own document between two versions (0 = empty).")
    async def config_diff(self, info: Info, from_version: int, to_version: int) -> list[ConfigChange]:
        changes = await config.diff_versions(
            access=await info.context.access(), from_no=from_version, to_no=to_version
        )
        return [ConfigChange(**c) for c in changes]

    @strawberry.field(description="The audit log, newest first (tenant administrators).")
    async def audit_log(
        self, info: Info, target_type: str | None = None, target_id: str | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[AuditEntryType]:
        access = await info.context.access()
        return await connection(
            info, lambda w: audit.list_entries(access=access, target_type=target_type, target_id=target_id, window=w),
            AuditEntryType.of, first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="The configuration presets shipped with civicgrid.")
    def presets(self) -> list[PresetType]:
        return [PresetType(name=p.name, title=p.title, parent=p.parent) for p in map(load_preset, preset_names())]


@strawberry.type
class ConfigMutation:
    @strawberry.mutation(description="Change this tenant's configuration: a new version; invalid documents are "
                         "rejected whole with every problem listed.")
    async def change_config(self, info: Info, input: ChangeConfigInput) -> ConfigVersionType:
        version = await config.change_config(
            **await info.context.acting(),
            set_values=input.set, unset=input.unset, replace=input.replace,
            effective_from=input.effective_from, comment=input.comment, replaces=input.replaces,
        )
        return ConfigVersionType.of(version)

    @strawberry.mutation(description="Withdraw a scheduled version (the latest) before it takes effect: the version "
                         "before it stays in force. Audited; the version stays listed, marked withdrawn.")
    async def withdraw_config_version(self, info: Info, version_no: int, reason: str) -> ConfigVersionType:
        version = await config.withdraw_version(
            **await info.context.acting(), version_no=version_no, reason=reason
        )
        return ConfigVersionType.of(version)
