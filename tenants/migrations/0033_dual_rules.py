from tortoise import migrations

# Talks 谈话, notices 通报 and year-end report runs (placeholder: filled by issue 18 part E)


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0032_dual_lists')]

    initial = False

    operations: list = []
