"""The rota's own consistency check: each monthly tally and its cached
count, recounted from the duties."""
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from ledger.counting import shortfall, tally_cache_key, worked_duties
from ledger.models import MonthlyTally


class Command(BaseCommand):
    help = ('Recount every monthly tally from the duties; print each tally or cached count '
            'that disagrees and exit 1 if there is one.')

    def handle(self, *args, **opts):
        bad = 0
        tallies = MonthlyTally.objects.select_related('member').order_by('member_id', 'month_start')
        for t in tallies:
            worked = worked_duties(t.member, t.month_start, t.month_end)
            owed = shortfall(t.member.monthly_quota, worked)
            cached = cache.get(tally_cache_key(t.member_id, t.month_start, t.month_end))
            if t.duties_worked != worked or t.shortfall != owed or (cached is not None and cached != worked):
                bad += 1
                self.stdout.write(f'member {t.member_id} {t.month_start:%Y-%m}: tally {t.duties_worked}/{t.shortfall}, '
                                  f'cache {cached}, duties {worked}/{owed}')
        if bad:
            raise CommandError(f'{bad} tallies are wrong')
        self.stdout.write(f'{tallies.count()} tallies checked: all right')
