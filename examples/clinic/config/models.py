"""The clinic's source data: clinicians, the shifts they are scheduled for
and work, and the audit log of every change to a shift."""
from django.db import models
from django.utils import timezone


class Clinician(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()
    # Shifts owed per calendar month.
    contracted_shifts = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Shift(models.Model):
    DAY, NIGHT, WEEKEND, ON_CALL = 'DAY', 'NIGHT', 'WEEKEND', 'ON_CALL'
    TYPES = [(DAY, 'Day'), (NIGHT, 'Night'), (WEEKEND, 'Weekend'), (ON_CALL, 'On call')]
    SCHEDULED, COMPLETED, CANCELLED = 'SCHEDULED', 'COMPLETED', 'CANCELLED'
    STATUSES = [(SCHEDULED, 'Scheduled'), (COMPLETED, 'Completed'), (CANCELLED, 'Cancelled')]

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name='shifts')
    date = models.DateField()
    type = models.CharField(max_length=20, choices=TYPES)
    # Hours.
    duration = models.DecimalField(max_digits=5, decimal_places=2)
    status = models.CharField(max_length=20, choices=STATUSES, default=SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(check=models.Q(duration__gt=0),
                                   name='config_shift_duration_positive'),
            models.UniqueConstraint(fields=['clinician', 'date', 'type'],
                                    name='config_shift_unique_clinician_date_type'),
        ]

    def __str__(self):
        return f'{self.clinician_id} {self.date} {self.type} {self.status}'


class AuditLog(models.Model):
    CREATE, UPDATE, DELETE = 'CREATE', 'UPDATE', 'DELETE'
    ACTIONS = [(CREATE, 'Create'), (UPDATE, 'Update'), (DELETE, 'Delete')]

    entity_type = models.CharField(max_length=50)
    entity_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=ACTIONS)
    timestamp = models.DateTimeField(default=timezone.now)
    changed_by = models.CharField(max_length=150)
    # {field: [old, new]} for updates, {field: value} for creates.
    changes = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=['entity_type', 'timestamp'], name='config_auditlog_entity_ts_idx'),
            models.Index(fields=['entity_id'], name='config_auditlog_entity_id_idx'),
        ]

    def __str__(self):
        return f'{self.timestamp} {self.action} {self.entity_type}#{self.entity_id}'
