"""Stored results: one tally per member and calendar month, so reports do
not recount duties."""
from django.db import models
from django.utils import timezone

from staff.models import Member


class MonthlyTally(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name='tallies')
    month_start = models.DateField()
    month_end = models.DateField()
    duties_worked = models.IntegerField()
    # max(monthly_quota - duties_worked, 0) for this month.
    shortfall = models.IntegerField()
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = 'monthly tallies'
        constraints = [
            models.UniqueConstraint(fields=['member', 'month_start', 'month_end'],
                                    name='tally_once_per_month'),
        ]

    def __str__(self):
        return f'{self.member_id} {self.month_start}..{self.month_end}: {self.duties_worked}'
