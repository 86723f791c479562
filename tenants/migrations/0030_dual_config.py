from tortoise import migrations

# Stored configuration documents upgraded to schema 4 (placeholder: filled by issue 18 part A)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0029_grid_pay')]

    initial = False

    operations: list = []
