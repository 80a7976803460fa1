"""The worked-shift rule, in one place."""
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from config.models import Shift

logger = logging.getLogger(__name__)

# A shift is worked when it was completed and lasted: cancelled and merely
# scheduled shifts never count. 'not-cancelled' is the misreading of that
# rule (scheduled shifts counted as worked) kept so the business-rule
# fault can be reproduced; nothing should select it on purpose.
RULES = {
    'completed': Q(status=Shift.COMPLETED, duration__gt=0),
    'not-cancelled': ~Q(status=Shift.CANCELLED),
}


def shift_count_key(clinician_id, start, end):
    """The cache key of a worked-shift count; django-redis stores it as
    ':1:shiftcount:<id>:<start>:<end>'."""
    return f'shiftcount:{clinician_id}:{start.isoformat()}:{end.isoformat()}'


def _pk(clinician):
    return getattr(clinician, 'pk', clinician)


class ShiftCounter:
    def __init__(self, rule=None):
        self.rule = rule or settings.WORKED_SHIFT_RULE
        if self.rule not in RULES:
            raise ImproperlyConfigured(
                f'unknown worked-shift rule {self.rule!r}; choose one of {sorted(RULES)}')

    def worked_shifts(self, clinician, start, end):
        """The worked shifts of a clinician (or clinician id) from start to
        end, both inclusive."""
        return Shift.objects.filter(RULES[self.rule], clinician_id=_pk(clinician),
                                    date__gte=start, date__lte=end)

    def count_worked_shifts(self, clinician, start, end):
        count = self.worked_shifts(clinician, start, end).count()
        logger.debug('clinician %s worked %d shifts from %s to %s (rule %s)',
                     _pk(clinician), count, start, end, self.rule)
        return count

    def cached_count(self, clinician, start, end):
        """What the application shows: the cached count, computed and cached
        on a miss. The figures stay until recalculated."""
        key = shift_count_key(_pk(clinician), start, end)
        count = cache.get(key)
        if count is None:
            count = self.count_worked_shifts(clinician, start, end)
            cache.set(key, count, timeout=None)
        return count
