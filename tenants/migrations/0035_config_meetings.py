from tortoise import migrations

# Stored configuration documents upgraded to schema 5 (placeholder: issue 19 part A)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0034_dual_emergency')]

    initial = False

    operations: list = []
