from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A ticket imported from another system keeps that system's ticket number; importing it again finds it here.
EXTERNAL_REF = """
CREATE UNIQUE INDEX ticket_external_ref ON ticket (tenant_id, external_ref) WHERE external_ref IS NOT NULL;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0016_config_withdraw')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='external_ref',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.RunSQL(EXTERNAL_REF, reverse_sql="DROP INDEX ticket_external_ref;"),
    ]
