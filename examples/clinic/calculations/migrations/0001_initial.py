from django.db import migrations, models
import django.db.models.deletion
import django.utils.timezone


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('config', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ShiftSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period_start', models.DateField()),
                ('period_end', models.DateField()),
                ('worked_shifts', models.IntegerField()),
                ('deficiency', models.IntegerField()),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('clinician', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='summaries', to='config.clinician')),
            ],
        ),
        migrations.AddConstraint(
            model_name='shiftsummary',
            constraint=models.UniqueConstraint(fields=('clinician', 'period_start', 'period_end'), name='calculations_shiftsummary_unique_period'),
        ),
    ]
