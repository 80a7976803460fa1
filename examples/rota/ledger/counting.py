"""The worked-duty rule, in one place.

A duty is worked when it was done or verified and lasted (hours > 0):
planned, called-off and no-show duties never count. A month's shortfall is
max(monthly_quota - worked, 0); a surplus in one month never offsets
another."""
import calendar
from datetime import date

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from rostering.models import Duty

# 'not-called-off' is the misreading of the rule (planned and no-show duties
# counted as worked), kept so the business-rule fault can be reproduced;
# nothing should select it on purpose.
RULES = {
    'done-or-verified': Q(state__in=['done', 'verified'], hours__gt=0),
    'not-called-off': ~Q(state='called_off'),
}


def _rule():
    name = settings.ROTA_WORKED_RULE
    if name not in RULES:
        raise ImproperlyConfigured(
            f'unknown ROTA_WORKED_RULE {name!r}; choose one of {sorted(RULES)}')
    return RULES[name]


def worked_duties(member, first_day, last_day):
    """How many duties a member (a Member or its id) worked from first_day
    to last_day, both inclusive: one COUNT query."""
    return Duty.objects.filter(_rule(), member_id=getattr(member, 'pk', member),
                               day__gte=first_day, day__lte=last_day).count()


def shortfall(monthly_quota, worked):
    """Duties owed in a month; never negative."""
    return max(monthly_quota - worked, 0)


def calendar_months(first_day, last_day):
    """(first day, last day) of every calendar month overlapping
    [first_day, last_day]."""
    year, month = first_day.year, first_day.month
    while date(year, month, 1) <= last_day:
        yield date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def tally_cache_key(member_id, first_day, last_day):
    """The cache key of a worked-duty count; django-redis stores it as
    'rota:2:tally/2025-01-01/2025-01-31/member-7'."""
    return f'tally/{first_day.isoformat()}/{last_day.isoformat()}/member-{member_id}'
