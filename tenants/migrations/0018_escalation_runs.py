from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

# 连续3次: each run of N escalations in a row is its own efficiency case, several in a month possible; the key
# leads with tenant_id. Cases by calendar month (and those before this) keep run_no 0.


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0017_ticket_history')]

    initial = False

    operations = [
        ops.RemoveConstraint(
            model_name='EfficiencyCase',
            name=None,
            fields=['tenant_id', 'unit_kind', 'unit_id', 'period'],
        ),
        ops.AddField(
            model_name='EfficiencyCase',
            name='run_no',
            field=fields.IntField(default=0),
        ),
        ops.AddConstraint(
            model_name='EfficiencyCase',
            constraint=UniqueConstraint(fields=('tenant_id', 'unit_kind', 'unit_id', 'period', 'run_no'), name=None),
        ),
    ]
