from django.db import migrations, models


class Migration(migrations.Migration):
    """The runbook's race-condition diagnosis reads the audit log by entity
    type and time, and by entity: without these it scans the whole table."""

    dependencies = [
        ('config', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['entity_type', 'timestamp'], name='config_auditlog_entity_ts_idx'),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['entity_id'], name='config_auditlog_entity_id_idx'),
        ),
    ]
