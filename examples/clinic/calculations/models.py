"""Stored results of the calculations, one row per clinician and calendar
month, so reports do not recount shifts."""
from django.db import models
from django.utils import timezone

from config.models import Clinician


class ShiftSummary(models.Model):
    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name='summaries')
    period_start = models.DateField()
    period_end = models.DateField()
    worked_shifts = models.IntegerField()
    deficiency = models.IntegerField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=['clinician', 'period_start', 'period_end'],
                                    name='calculations_shiftsummary_unique_period'),
        ]

    def __str__(self):
        return f'{self.clinician_id} {self.period_start}..{self.period_end}: {self.worked_shifts}'
