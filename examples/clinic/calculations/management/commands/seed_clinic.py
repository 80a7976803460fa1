"""Deterministic, realistic data: the same arguments always give the same
clinicians, shifts, summaries and cached counts."""
import argparse
import calendar
import random
from datetime import date
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from calculations.models import ShiftSummary
from calculations.summaries import recalculate
from config.audit import jsonable
from config.models import AuditLog, Clinician, Shift
from config.signals import AUDITED_FIELDS

FIRST_NAMES = ['Amira', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas',
               'Kemi', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quentin', 'Rosa', 'Sami', 'Tove']
LAST_NAMES = ['Okafor', 'Lindqvist', 'Martin', 'Patel', 'Rossi', 'Haddad', 'Nowak', 'Fischer',
              'Silva', 'Kim', 'Moreau', 'Byrne', 'Jensen', 'Costa', 'Tanaka', 'Weber']
HOURS = {Shift.DAY: Decimal('8.00'), Shift.NIGHT: Decimal('12.00'),
         Shift.WEEKEND: Decimal('12.00'), Shift.ON_CALL: Decimal('4.00')}


def month(value):
    try:
        year, mon = (int(part) for part in value.split('-'))
        return date(year, mon, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f'must look like 2025-01, not {value!r}')


class Command(BaseCommand):
    help = ('Create clinicians with a few months of shifts (mostly completed, some cancelled '
            'or still scheduled), one audit-log row per shift, the monthly summaries and the '
            'cached counts, through the same code path as the recalculation task.')

    def add_arguments(self, parser):
        parser.add_argument('--clinicians', type=int, default=10)
        parser.add_argument('--months', type=int, default=3)
        parser.add_argument('--first-month', type=month, default=date(2025, 1, 1),
                            help='the first month with shifts, YYYY-MM (default 2025-01)')
        parser.add_argument('--seed', type=int, default=1, help='random seed (default 1)')
        parser.add_argument('--reset', action='store_true',
                            help='delete existing clinicians, shifts, summaries and audit log first')

    def handle(self, *args, **opts):
        if opts['clinicians'] < 1 or opts['months'] < 1:
            raise CommandError('--clinicians and --months must be at least 1')
        rng = random.Random(opts['seed'])
        with transaction.atomic():
            if opts['reset']:
                ShiftSummary.objects.all().delete()
                Clinician.objects.all().delete()
                AuditLog.objects.all().delete()
            elif Clinician.objects.exists():
                raise CommandError('the database already has clinicians; use --reset to replace them')
            clinicians = [self.clinician(rng, n) for n in range(opts['clinicians'])]
            periods = self.periods(opts['first_month'], opts['months'])
            shifts = Shift.objects.bulk_create(
                s for c in clinicians for first, last in periods for s in self.shifts(rng, c, first, last))
            # bulk_create sends no signals: the import is audited here, in one go.
            AuditLog.objects.bulk_create(
                AuditLog(entity_type='Shift', entity_id=s.pk, action=AuditLog.CREATE, changed_by='seed',
                         changes={f: jsonable(getattr(s, f)) for f in AUDITED_FIELDS})
                for s in shifts)
        start, end = periods[0][0], periods[-1][1]
        for c in clinicians:
            recalculate(c.pk, start, end)
        self.stdout.write(f'seeded {len(clinicians)} clinicians (ids {clinicians[0].pk}..{clinicians[-1].pk}) '
                          f'with {len(shifts)} shifts from {start} to {end}; summaries and cache written')

    @staticmethod
    def periods(first, count):
        periods = []
        year, mon = first.year, first.month
        for _ in range(count):
            periods.append((date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])))
            year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
        return periods

    @staticmethod
    def clinician(rng, n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        return Clinician.objects.create(
            name=f'{first} {last}', email=f'{first.lower()}.{last.lower()}{n}@clinic.example',
            contracted_shifts=rng.randint(8, 14), active=rng.random() > 0.1)

    @staticmethod
    def shifts(rng, clinician, first, last):
        days = [date(first.year, first.month, d) for d in range(1, last.day + 1)]
        count = max(0, min(len(days), clinician.contracted_shifts + rng.randint(-3, 2)))
        for day in sorted(rng.sample(days, count)):
            kind = Shift.WEEKEND if day.weekday() >= 5 else rng.choice(
                [Shift.DAY, Shift.DAY, Shift.NIGHT, Shift.ON_CALL])
            roll = rng.random()
            status = Shift.COMPLETED if roll < 0.85 else Shift.CANCELLED if roll < 0.93 else Shift.SCHEDULED
            yield Shift(clinician=clinician, date=day, type=kind, duration=HOURS[kind], status=status)
