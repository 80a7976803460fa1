"""Recalculation: the one code path that writes ShiftSummary rows and the
cached counts, used by the Celery task, the seed command and the faults."""
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from config.models import Clinician

from .deficiency import month_deficiency, months
from .models import ShiftSummary
from .shift_counter import ShiftCounter, shift_count_key


def recalculate(clinician_id, start, end, counter=None, cache_figures=True):
    """Recompute the summary of every calendar month overlapping
    [start, end] and cache the worked-shift counts of each month and of the
    range itself. Returns a JSON-able account of what was stored."""
    counter = counter or ShiftCounter()
    figures = {}
    stored = []
    with transaction.atomic():
        # The runbook's fix for races: one recalculation of a clinician at a time.
        clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
        now = timezone.now()
        for first, last in months(start, end):
            worked = counter.count_worked_shifts(clinician, first, last)
            deficiency = month_deficiency(clinician.contracted_shifts, worked)
            ShiftSummary.objects.update_or_create(
                clinician=clinician, period_start=first, period_end=last,
                defaults={'worked_shifts': worked, 'deficiency': deficiency, 'computed_at': now})
            figures[shift_count_key(clinician.pk, first, last)] = worked
            stored.append({'period_start': first.isoformat(), 'period_end': last.isoformat(),
                           'worked_shifts': worked, 'deficiency': deficiency})
        total = counter.count_worked_shifts(clinician, start, end)
        figures[shift_count_key(clinician.pk, start, end)] = total
    if cache_figures:
        # Plain ints, so django-redis stores digits other tools can read.
        cache.set_many(figures, timeout=None)
    return {
        'clinician_id': clinician.pk,
        'start_date': start.isoformat(),
        'end_date': end.isoformat(),
        'worked_shifts': total,
        'months': stored,
    }
