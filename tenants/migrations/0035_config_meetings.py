from tortoise import migrations
from tortoise.migrations import operations as ops

from tenants.config.upgrade import upgrade_stored

# Configuration documents of schema 5 (joint meetings and interviews, issue 19: who scores a rubric line, the days
# of an owed interview 约谈, where meetings are held and when their decisions are reminded and escalated). Every
# stored rubric line is entered by its body (``source = "body"``: the scores of published periods keep their
# meaning), and every stored root document gets the new fields of ``assessment.red_black_list`` and
# ``party.joint_meeting`` at their defaults of that day; a district's document inherits those from its city
# (tenants/config/upgrade.py ``_to_v5``).
TO = 5


async def upgrade(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await upgrade_stored(schema_editor.client, to=TO)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0034_dual_emergency')]

    initial = False

    operations = [ops.RunPython(upgrade)]
