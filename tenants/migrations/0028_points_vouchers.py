from tortoise import migrations

# Vouchers, partners' monthly statements. (placeholder: filled by its part of issue 17)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0027_points')]

    initial = False

    operations: list = []
