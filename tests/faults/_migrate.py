"""Apply the migrations of one module to a database as its owner: ``python -m tests.faults._migrate URL MODULE``."""

from __future__ import annotations

import asyncio
import sys

from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate

from tenants.db import tortoise_config


async def main(url: str, module: str) -> None:
    config = tortoise_config(url, pool_size=2)
    config["apps"]["civicgrid"]["migrations"] = module
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await migrate(config=config)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
