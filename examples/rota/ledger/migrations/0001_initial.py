from django.db import migrations, models
import django.db.models.deletion
import django.utils.timezone


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('staff', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthlyTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month_start', models.DateField()),
                ('month_end', models.DateField()),
                ('duties_worked', models.IntegerField()),
                ('shortfall', models.IntegerField()),
                ('refreshed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('member', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tallies', to='staff.member')),
            ],
            options={
                'verbose_name_plural': 'monthly tallies',
            },
        ),
        migrations.AddConstraint(
            model_name='monthlytally',
            constraint=models.UniqueConstraint(fields=('member', 'month_start', 'month_end'), name='tally_once_per_month'),
        ),
    ]
