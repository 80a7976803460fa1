from django.db import migrations, models


class Migration(migrations.Migration):
    """The database, not only the application, guards what the worked-duty
    rule relies on: one duty per member, day and kind (a double submission
    must fail, not count twice), positive hours, and only known states."""

    dependencies = [
        ('staff', '0001_initial'),
        ('rostering', '0001_initial'),
    ]

    operations = [
        migrations.AlterUniqueTogether(
            name='duty',
            unique_together={('member', 'day', 'kind')},
        ),
        migrations.AddConstraint(
            model_name='duty',
            constraint=models.CheckConstraint(check=models.Q(('hours__gt', 0)), name='duty_hours_gt_zero'),
        ),
        migrations.AddConstraint(
            model_name='duty',
            constraint=models.CheckConstraint(check=models.Q(('state__in', ['planned', 'done', 'verified', 'called_off', 'no_show'])), name='duty_state_known'),
        ),
    ]
