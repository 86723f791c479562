from tortoise import migrations

# Grid scores per month and grid workers' pay statements. (placeholder: filled by its part of issue 17)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0028_points_vouchers')]

    initial = False

    operations: list = []
