from tortoise import migrations

# Meeting series, meetings, attendance, agenda items, decisions, compliance flags (placeholder: issue 19 part B)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0035_config_meetings')]

    initial = False

    operations: list = []
