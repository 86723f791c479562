"""The tenant's 双报到 configuration in force, and the error every 双报到 service raises when it is off."""

from __future__ import annotations

from datetime import date

from tenants.config.document import DualRegistration
from tenants.config.service import effective_config
from tenants.errors import NotEnabled


class DualNotEnabled(NotEnabled):
    feature = "party.dual_registration"
    feature_zh = "双报到"
    feature_en = "dual registration (双报到)"


async def dual_config(on: date | None = None, *, field: str | None = None) -> DualRegistration:
    """``[party.dual_registration]`` in force on ``on`` (today by default); ``DualNotEnabled`` when it is off."""
    dual = (await effective_config(on)).document.party.dual_registration
    if not dual.enabled:
        raise DualNotEnabled(field=field)
    return dual
