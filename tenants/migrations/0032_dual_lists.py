from tortoise import migrations

# Needs and project lists, claims and micro-wishes 微心愿 (placeholder: filled by issue 18 part C)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0031_dual')]

    initial = False

    operations: list = []
