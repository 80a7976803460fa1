"""Celery jobs of the ledger (discovered as `<app>.jobs`, see
rotasite/celery.py)."""
from datetime import date

from celery import shared_task

from .tallies import rebuild


def _as_date(value):
    # Callers from a shell pass dates; messages carry ISO strings.
    return value if isinstance(value, date) else date.fromisoformat(value)


@shared_task(name='ledger.jobs.rebuild_tally')
def rebuild_tally(member_id, first_day, last_day):
    """Rebuild a member's monthly tallies and cached counts over
    [first_day, last_day] (ISO dates, inclusive)."""
    first, last = _as_date(first_day), _as_date(last_day)
    if last < first:
        raise ValueError(f'last_day {last} is before first_day {first}')
    return rebuild(int(member_id), first, last)
