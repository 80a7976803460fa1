"""Every create, update and delete of a Shift writes an AuditLog row, which
is what the runbook's race-condition diagnosis reads."""
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from .audit import current_actor, jsonable
from .models import AuditLog, Shift

AUDITED_FIELDS = ('clinician_id', 'date', 'type', 'duration', 'status')


def _values(shift):
    return {f: jsonable(getattr(shift, f)) for f in AUDITED_FIELDS}


@receiver(pre_save, sender=Shift)
def remember_stored_values(sender, instance, raw, **kwargs):
    # The row as stored right now, not as this instance last read it: that
    # is what makes a lost update visible in the log.
    instance._audit_before = None
    if instance.pk and not raw:
        stored = Shift.objects.filter(pk=instance.pk).values(*AUDITED_FIELDS).first()
        if stored:
            instance._audit_before = {f: jsonable(v) for f, v in stored.items()}


@receiver(post_save, sender=Shift)
def audit_save(sender, instance, created, raw, **kwargs):
    if raw:
        return
    after = _values(instance)
    before = getattr(instance, '_audit_before', None)
    if created or before is None:
        action, changes = AuditLog.CREATE, after
    else:
        action = AuditLog.UPDATE
        changes = {f: [before[f], after[f]] for f in AUDITED_FIELDS if before[f] != after[f]}
    AuditLog.objects.create(entity_type='Shift', entity_id=instance.pk, action=action,
                            timestamp=timezone.now(), changed_by=current_actor(),
                            changes=changes)


@receiver(post_delete, sender=Shift)
def audit_delete(sender, instance, **kwargs):
    AuditLog.objects.create(entity_type='Shift', entity_id=instance.pk, action=AuditLog.DELETE,
                            timestamp=timezone.now(), changed_by=current_actor(),
                            changes=_values(instance))
