from tortoise import migrations

# Emergency mode and work-group assignments 平急结合 (placeholder: filled by issue 18 part F)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0033_dual_rules')]

    initial = False

    operations: list = []
