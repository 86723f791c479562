"""Apply the migrations of one module to a database as its owner: ``python -m tests.faults._migrate URL MODULE
[TARGET]`` (TARGET: ``civicgrid.0021_repair_shipped_drift``, up to that migration only)."""

from __future__ import annotations

import asyncio
import sys

from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate

from tenants.db import tortoise_config


async def main(url: str, module: str, target: str | None = None) -> None:
    config = tortoise_config(url, pool_size=2)
    config["apps"]["civicgrid"]["migrations"] = module
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await migrate(config=config, target=target)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
