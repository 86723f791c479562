from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from tenants.config.upgrade import upgrade_stored

# Configuration documents carry the schema they were stored under (tenants/config/upgrade.py). Rows stored until
# now are schema 1, whatever commit wrote them; the database default keeps naming a row written by a release that
# does not know the column 1, so the code upgrades it where it reads it. This migration then brings every stored
# document to schema 2: defaults for the fields added since 0001 (company_combination, the bodies' roles, the lists'
# ties, the matrix's window and partner hours, items' partners and photo_expected, files, open311).
TO = 2


async def upgrade(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await upgrade_stored(schema_editor.client, to=TO)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0022_files')]

    initial = False

    operations = [
        ops.AddField(model_name='ConfigVersion', name='schema_version',
                     field=fields.SmallIntField(default=2, db_default=1)),
        ops.RunPython(upgrade),
    ]
