from tortoise import migrations

# Interviews generalised (owed/held, any subject) and commendations (placeholder: issue 19 part C)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0036_meetings')]

    initial = False

    operations: list = []
