from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0024_config_notify')]

    initial = False

    # When a post was ended (endPost today: it stops granting at once, not at midnight) and when a person was
    # deactivated (setPersonActive).
    operations = [
        ops.AddField(
            model_name='Post',
            name='ended_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Person',
            name='deactivated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
