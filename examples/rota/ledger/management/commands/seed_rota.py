"""Deterministic, realistic data: the same arguments always give the same
members, duties, history, tallies and cached counts."""
import argparse
import calendar
import random
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from ledger.counting import calendar_months
from ledger.models import MonthlyTally
from ledger.tallies import rebuild
from rostering.models import Duty
from staff.models import Member

GIVEN = ['Aino', 'Bastien', 'Carmen', 'Dmitri', 'Efua', 'Finn', 'Gaia', 'Hamid', 'Isla', 'Jun',
         'Kalani', 'Lucia', 'Matteo', 'Nadia', 'Oskar', 'Paloma', 'Rafael', 'Saoirse', 'Tariq', 'Yara']
FAMILY = ['Achterberg', 'Brennan', 'Castillo', 'Dubois', 'Eriksen', 'Fontaine', 'Gallagher',
          'Horvath', 'Ivanova', 'Juarez', 'Kowalczyk', 'Lindgren', 'Mensah', 'Novak', 'Oyelaran']
HOURS = {Duty.EARLY: Decimal('7.5'), Duty.LATE: Decimal('7.5'),
         Duty.NIGHT: Decimal('10.0'), Duty.STANDBY: Decimal('4.0')}
# The people the faults act as; 'seed' owns every seeded duty's history.
USERS = ['seed', 'alice', 'bob']


def month(value):
    try:
        year, mon = (int(part) for part in value.split('-'))
        return date(year, mon, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f'must look like 2025-01, not {value!r}')


class Command(BaseCommand):
    help = ('Create rota members with a few months of duties (mostly done or verified, some '
            'called off, planned or missed), a history row per duty by user "seed", and the '
            'monthly tallies and cached counts through the same code path as the '
            'ledger.jobs.rebuild_tally job.')

    def add_arguments(self, parser):
        parser.add_argument('--members', type=int, default=8)
        parser.add_argument('--months', type=int, default=3)
        parser.add_argument('--first-month', type=month, default=date(2025, 1, 1),
                            help='the first month with duties, YYYY-MM (default 2025-01)')
        parser.add_argument('--seed', type=int, default=3, help='random seed (default 3)')
        parser.add_argument('--reset', action='store_true',
                            help='delete existing members, duties, their history and tallies first')

    def handle(self, *args, **opts):
        if opts['members'] < 1 or opts['months'] < 1:
            raise CommandError('--members and --months must be at least 1')
        rng = random.Random(opts['seed'])
        first = opts['first_month']
        last = self.month_end(first, opts['months'])
        with transaction.atomic():
            if opts['reset']:
                MonthlyTally.objects.all().delete()
                Member.objects.all().delete()  # and their duties
                Duty.history.all().delete()    # including the '-' rows the delete wrote
            elif Member.objects.exists():
                raise CommandError('the database already has members; use --reset to replace them')
            users = {name: User.objects.get_or_create(username=name)[0] for name in USERS}
            members = [self.member(rng, n) for n in range(opts['members'])]
            duties = bulk_create_with_history(
                [d for m in members for start, end in calendar_months(first, last)
                 for d in self.duties(rng, m, start, end)],
                Duty, default_user=users['seed'])
        for m in members:
            rebuild(m.pk, first, last)
        self.stdout.write(f'seeded {len(members)} members (ids {members[0].pk}..{members[-1].pk}) '
                          f'with {len(duties)} duties from {first} to {last}; tallies and cache written')

    @staticmethod
    def month_end(first, count):
        """The last day of the count-th month from first."""
        index = first.year * 12 + first.month - 1 + count - 1
        year, mon = divmod(index, 12)
        return date(year, mon + 1, calendar.monthrange(year, mon + 1)[1])

    @staticmethod
    def member(rng, n):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        return Member.objects.create(
            full_name=f'{given} {family}', email=f'{given.lower()}.{family.lower()}{n}@rota.example',
            monthly_quota=rng.randint(6, 12), is_active=rng.random() > 0.1)

    @staticmethod
    def duties(rng, member, first, last):
        days = [date(first.year, first.month, d) for d in range(1, last.day + 1)]
        count = max(0, min(len(days), member.monthly_quota + rng.randint(-3, 2)))
        for day in sorted(rng.sample(days, count)):
            kind = Duty.STANDBY if day.weekday() >= 5 else rng.choice(
                [Duty.EARLY, Duty.EARLY, Duty.LATE, Duty.NIGHT])
            roll = rng.random()
            state = (Duty.DONE if roll < 0.72 else Duty.VERIFIED if roll < 0.86 else
                     Duty.CALLED_OFF if roll < 0.93 else Duty.PLANNED if roll < 0.97 else Duty.NO_SHOW)
            yield Duty(member=member, day=day, kind=kind, hours=HOURS[kind], state=state)
