"""The clinic's own consistency check: every stored summary, and the cached
count of its month, against the shifts as the worked-shift rule counts them
now."""
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from calculations.deficiency import month_deficiency
from calculations.models import ShiftSummary
from calculations.shift_counter import ShiftCounter, shift_count_key


class Command(BaseCommand):
    help = ('Recount every stored monthly summary from the shifts and compare it with the '
            'summary and the cached count; exit 1 when any disagree.')

    def handle(self, *args, **opts):
        counter = ShiftCounter()
        wrong = []
        summaries = ShiftSummary.objects.select_related('clinician').order_by('clinician_id', 'period_start')
        for s in summaries:
            worked = counter.count_worked_shifts(s.clinician, s.period_start, s.period_end)
            owed = month_deficiency(s.clinician.contracted_shifts, worked)
            cached = cache.get(shift_count_key(s.clinician_id, s.period_start, s.period_end))
            if (s.worked_shifts, s.deficiency) != (worked, owed) or cached not in (None, worked):
                wrong.append(f'clinician {s.clinician_id} {s.period_start}..{s.period_end}: '
                             f'stored {s.worked_shifts} worked, {s.deficiency} owed, cached {cached}; '
                             f'the shifts say {worked} worked, {owed} owed')
        for line in wrong:
            self.stdout.write(line)
        if wrong:
            raise CommandError(f'{len(wrong)} of {summaries.count()} summaries disagree with the shifts')
        self.stdout.write(f'all {summaries.count()} summaries agree with the shifts')
