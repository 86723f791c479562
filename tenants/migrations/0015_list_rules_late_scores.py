from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0014_ticket_partners')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ScoreSubmission',
            name='late_entry',
            field=fields.BooleanField(default=False),
        ),
    ]
