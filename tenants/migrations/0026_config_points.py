from tortoise import migrations
from tortoise.migrations import operations as ops

from tenants.config.upgrade import upgrade_stored

# Configuration documents of schema 3 (points, issue 17: rules' events, the catalogue's stock, limits, windows,
# voucher days and partner, expiry warnings, grid score, performance pay, the points jobs' schedule). Every stored
# document is brought to it with the values that keep what it did before: each rule awarded by hand (``on`` =
# "manual"), performance pay off, the other new fields at their defaults; a district gets only its own lists'
# items completed (tenants/config/upgrade.py ``_to_v3``).
TO = 3


async def upgrade(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await upgrade_stored(schema_editor.client, to=TO)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0025_people_ended')]

    initial = False

    operations = [ops.RunPython(upgrade)]
