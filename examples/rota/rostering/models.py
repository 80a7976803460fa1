"""Duties: who is on which day, in which slot, and what became of it. Every
save is recorded by django-simple-history (rostering_historicalduty, one
full snapshot per save, with the user who saved); that is the rota's only
audit trail."""
from django.db import models
from simple_history.models import HistoricalRecords

from staff.models import Member


class Duty(models.Model):
    EARLY, LATE, NIGHT, STANDBY = 'early', 'late', 'night', 'standby'
    KINDS = [(EARLY, 'Early'), (LATE, 'Late'), (NIGHT, 'Night'), (STANDBY, 'Standby')]
    PLANNED, DONE, VERIFIED, CALLED_OFF, NO_SHOW = 'planned', 'done', 'verified', 'called_off', 'no_show'
    STATES = [(PLANNED, 'Planned'), (DONE, 'Done'), (VERIFIED, 'Verified'),
              (CALLED_OFF, 'Called off'), (NO_SHOW, 'No show')]

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name='duties')
    day = models.DateField()
    kind = models.CharField(max_length=10, choices=KINDS)
    hours = models.DecimalField(max_digits=4, decimal_places=1)
    state = models.CharField(max_length=12, choices=STATES, default=PLANNED)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = 'duties'
        unique_together = [('member', 'day', 'kind')]
        constraints = [
            models.CheckConstraint(check=models.Q(hours__gt=0), name='duty_hours_gt_zero'),
            models.CheckConstraint(
                check=models.Q(state__in=['planned', 'done', 'verified', 'called_off', 'no_show']),
                name='duty_state_known'),
        ]

    def __str__(self):
        return f'{self.member_id} {self.day} {self.kind} {self.state}'
