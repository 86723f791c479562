from tortoise import migrations

# The points ledger (placeholder: filled by the core of issue 17)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0026_config_points')]

    initial = False

    operations: list = []
