from django.db import migrations, models


class Migration(migrations.Migration):
    """The database, not only the application, enforces the worked-shift
    rule's preconditions: positive durations and one shift per clinician,
    date and type (a double submission must fail, not count twice)."""

    dependencies = [
        ('config', '0002_auditlog_entity_timestamp_idx'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='shift',
            constraint=models.CheckConstraint(check=models.Q(duration__gt=0), name='config_shift_duration_positive'),
        ),
        migrations.AddConstraint(
            model_name='shift',
            constraint=models.UniqueConstraint(fields=('clinician', 'date', 'type'), name='config_shift_unique_clinician_date_type'),
        ),
    ]
