"""Files' DataLoaders for one request: the photos attached to tickets and findings, and files by id."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.files.models import StoredFile
from tenants.files.service import by_ids, files_of


class FileLoaders(DomainLoaders):
    def attached(self, kind: str) -> DataLoader[int, list[StoredFile]]:
        """Files attached to rows of ``kind`` (``ticket``, ``finding``) the request has read."""

        async def load(owner_ids: list[int]) -> list[list[StoredFile]]:
            return grouped(await files_of(kind, owner_ids), "attached_id", owner_ids)

        return self.loader(("attached", kind), load)

    @property
    def by_id(self) -> DataLoader[int, StoredFile | None]:
        """Files by id, as a readable row recorded them (a timeline event's ``fileIds``)."""

        async def load(ids: list[int]) -> list[StoredFile | None]:
            rows = {f.id: f for f in await by_ids(ids)}
            return [rows.get(i) for i in ids]

        return self.loader("by_id", load)
