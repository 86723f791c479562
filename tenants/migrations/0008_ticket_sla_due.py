from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0007_tickets_rls')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='sla_due_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
