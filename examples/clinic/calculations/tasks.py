"""Celery tasks of the calculations app."""
from datetime import date

from celery import shared_task

from .summaries import recalculate


def _as_date(value):
    # Callers from a shell pass dates; messages carry ISO strings.
    return value if isinstance(value, date) else date.fromisoformat(value)


@shared_task(name='calculations.tasks.recalculate_clinician')
def recalculate_clinician(clinician_id, start_date, end_date):
    """Recompute a clinician's monthly summaries and cached shift counts
    over [start_date, end_date] (ISO dates, inclusive)."""
    start, end = _as_date(start_date), _as_date(end_date)
    if end < start:
        raise ValueError(f'end_date {end} is before start_date {start}')
    return recalculate(int(clinician_id), start, end)
