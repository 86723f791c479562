from tortoise import migrations

# Property managers, their contract history, manager ratings, elimination decisions (placeholder: issue 19 part D)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0037_interviews')]

    initial = False

    operations: list = []
