"""Reading territory nodes with their links: a page of one level with its parents, in one statement."""

from __future__ import annotations

from typing import Any

from tenants.paging import BY_ID, Link, Page, Window, page_with
from tenants.territory.access import Access, readable
from tenants.territory.models import MODEL_BY_LEVEL, Area
from tenants.territory.service import areas_query

# The higher nodes each level links to (its GraphQL fields): a compound's grid, community and street ...
AREA_LINKS: dict[str, tuple[str, ...]] = {
    "street": (),
    "community": ("street",),
    "grid": ("community",),
    "compound": ("grid", "community", "street"),
    "building": ("compound",),
    "household": ("building", "compound"),
}


async def list_areas_with(
    level: str,
    *,
    access: Access,
    parent_id: int | None,
    within: dict[str, int] | None,
    window: Window,
    search: str | None = None,
    links: set[str],
) -> Page[tuple[Area, dict[str, Any]]]:
    """``service.list_areas`` with each node's ``links`` (of ``AREA_LINKS[level]``: higher nodes as the caller
    reads them, None where it does not) in the same statement."""
    qs = areas_query(level, access=access, parent_id=parent_id, within=within, search=search)
    wanted = {
        name: Link(MODEL_BY_LEVEL[name], f'x.id = p."{name}_id"', readable(access, name))
        for name in AREA_LINKS[level]
        if name in links
    }
    return await page_with(qs, BY_ID, window, wanted, countable=level != "household")
