from tortoise import migrations
from tortoise.migrations import operations as ops

from tenants.config.upgrade import upgrade_stored

# Configuration documents of schema 4 (双报到, issue 18: talk and wish deadlines and reminders, check-in code
# minutes, working hours for 8小时以外, the year-end report's day, the normal and emergency work groups 平急结合).
# Every stored root document gets each new field of ``party.dual_registration`` at its default of that day, and no
# notice threshold (``notice_after_absences`` absent: no 通报); a district's document is left as it is, since it
# inherits them from its city (tenants/config/upgrade.py ``_to_v4``).
TO = 4


async def upgrade(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await upgrade_stored(schema_editor.client, to=TO)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0029_grid_pay')]

    initial = False

    operations = [ops.RunPython(upgrade)]
