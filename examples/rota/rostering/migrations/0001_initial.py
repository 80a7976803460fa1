from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion
import simple_history.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('staff', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalDuty',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('day', models.DateField()),
                ('kind', models.CharField(choices=[('early', 'Early'), ('late', 'Late'), ('night', 'Night'), ('standby', 'Standby')], max_length=10)),
                ('hours', models.DecimalField(decimal_places=1, max_digits=4)),
                ('state', models.CharField(choices=[('planned', 'Planned'), ('done', 'Done'), ('verified', 'Verified'), ('called_off', 'Called off'), ('no_show', 'No show')], default='planned', max_length=12)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('member', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='staff.member')),
            ],
            options={
                'verbose_name': 'historical duty',
                'verbose_name_plural': 'historical duties',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='Duty',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('kind', models.CharField(choices=[('early', 'Early'), ('late', 'Late'), ('night', 'Night'), ('standby', 'Standby')], max_length=10)),
                ('hours', models.DecimalField(decimal_places=1, max_digits=4)),
                ('state', models.CharField(choices=[('planned', 'Planned'), ('done', 'Done'), ('verified', 'Verified'), ('called_off', 'Called off'), ('no_show', 'No show')], default='planned', max_length=12)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('member', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='duties', to='staff.member')),
            ],
            options={
                'verbose_name_plural': 'duties',
            },
        ),
    ]
