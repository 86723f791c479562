from tortoise import migrations

# Configuration documents of schema 3 (points: events, catalogue fields, grid scores, performance pay). (placeholder: filled by its part of issue 17)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0025_people_ended')]

    initial = False

    operations: list = []
