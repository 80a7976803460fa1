"""Rebuilding tallies: the one code path that writes MonthlyTally rows and
the cached worked-duty counts, used by the Celery job, the seed command and
the faults."""
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from staff.models import Member

from .counting import calendar_months, shortfall, tally_cache_key, worked_duties
from .models import MonthlyTally


def rebuild(member_id, first_day, last_day, cache_figures=True):
    """Recount every calendar month overlapping [first_day, last_day] for one
    member, store its MonthlyTally, and cache the worked count of each month
    and of the whole range (plain ints, no expiry). cache_figures=False
    leaves the cache as it was (only the stale-cache fault does that).
    Returns a JSON-able account of what was stored."""
    figures = {}
    months = []
    with transaction.atomic():
        # One rebuild of a member at a time: the cure for racing rebuilds.
        member = Member.objects.select_for_update().get(pk=member_id)
        now = timezone.now()
        for first, last in calendar_months(first_day, last_day):
            worked = worked_duties(member, first, last)
            owed = shortfall(member.monthly_quota, worked)
            MonthlyTally.objects.update_or_create(
                member=member, month_start=first, month_end=last,
                defaults={'duties_worked': worked, 'shortfall': owed, 'refreshed_at': now})
            figures[tally_cache_key(member.pk, first, last)] = worked
            months.append({'month_start': first.isoformat(), 'month_end': last.isoformat(),
                           'duties_worked': worked, 'shortfall': owed})
        total = worked_duties(member, first_day, last_day)
        figures[tally_cache_key(member.pk, first_day, last_day)] = total
    if cache_figures:
        # Plain ints, so django-redis stores digits other tools can read.
        cache.set_many(figures, timeout=None)
    return {
        'member_id': member.pk,
        'first_day': first_day.isoformat(),
        'last_day': last_day.isoformat(),
        'duties_worked': total,
        'months': months,
        'cached': cache_figures,
    }
