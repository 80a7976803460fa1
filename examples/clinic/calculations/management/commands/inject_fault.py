"""Break the clinic the way the runbook's root causes break it in
production, so the diagnosis and the fixes can be practised and tested."""
import argparse
import json
import textwrap
import threading
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from calculations.deficiency import months
from calculations.models import ShiftSummary
from calculations.shift_counter import RULES, ShiftCounter
from calculations.summaries import recalculate
from config.audit import acting_as
from config.models import Shift

FAULTS = {
    'unapplied-migration': (
        'Unapply config.0003_shift_constraints, as `manage.py migrate config 0002` does (a deploy '
        'that rolled the schema back, or never migrated). Its row leaves django_migrations and the '
        'database stops enforcing positive durations and one shift per clinician, date and type. '
        '`manage.py migrate` fixes it.'),
    'race-condition': (
        'Two requests edit the same completed shift at once: alice cancels it and the app '
        'recalculates the month; bob, working from the copy he read before, saves a duration '
        'correction and so writes the old status back. The summary and the cache count one shift '
        'fewer than the source, and the audit log has two UPDATEs of the shift in the same second.'),
    'stale-cache': (
        'A data-correction script cancels two completed shifts with a bulk UPDATE (no signals, '
        'no audit log) and recomputes the month\'s summary, but never touches the cache, whose '
        'keys do not expire: source and summary agree, the cached counts are two too high.'),
    'constraint-bypass': (
        'A bulk import drops the shift constraints to get its rows in: it duplicates two completed '
        'shifts and adds a zero-hour completed one, re-adds the duration CHECK as NOT VALID and '
        'cannot re-add the unique constraint. django_migrations still says 0003 is applied; the '
        'source now counts two shifts more than the summary and the cache.'),
    'business-rule': (
        'A release that misread the rule (every shift not cancelled is "worked", scheduled ones '
        'too) recalculated all stored summaries and cached counts. Summary and cache agree with '
        'each other and are too high wherever a shift is still scheduled. Running the worker or '
        '`manage.py test calculations` with CLINIC_WORKED_SHIFT_RULE=not-cancelled makes the code '
        'itself misbehave (the tests then fail).'),
}


def on_another_connection(work):
    """Run work in a thread of its own, which Django gives its own database
    connection, and wait for it; what it raises is raised here."""
    failed = []

    def run():
        try:
            work()
        except BaseException as e:  # handed to the caller
            failed.append(e)
        finally:
            connections.close_all()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


class Command(BaseCommand):
    help = 'Inject one of the runbook\'s root causes into the clinic database and cache.\n\n' + \
        '\n\n'.join(f'{name}:\n' + textwrap.fill(text, 78, initial_indent='  ', subsequent_indent='  ')
                     for name, text in FAULTS.items())

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Keep the faults' paragraphs apart in --help.
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument('--fault', required=True, choices=sorted(FAULTS))
        parser.add_argument('--clinician', type=int,
                            help='the clinician to hit (default: the first with two completed shifts in the latest month)')
        parser.add_argument('--json', action='store_true', help='print what was done as one JSON object')

    def handle(self, *args, **opts):
        fault = opts['fault']
        report = getattr(self, fault.replace('-', '_'))(opts['clinician'])
        report = {'fault': fault, **report}
        self.stdout.write(json.dumps(report) if opts['json'] else
                          f'injected {fault}: {report["detail"]}')

    def victim(self, clinician_id):
        """The clinician to hit (by default the first with two completed
        shifts in the latest month that has any), that month's bounds and the
        clinician's completed shifts in it."""
        shifts = Shift.objects.filter(RULES['completed'])
        if clinician_id is not None:
            shifts = shifts.filter(clinician_id=clinician_id)
        latest = shifts.aggregate(latest=Max('date'))['latest']
        if latest is None:
            whose = f' of clinician {clinician_id}' if clinician_id is not None else ''
            raise CommandError(f'no completed shifts{whose} to work with; run `manage.py seed_clinic` first')
        first, last = next(months(latest, latest))
        in_month = shifts.filter(date__gte=first, date__lte=last)
        candidates = in_month.values('clinician_id').annotate(n=Count('id')).filter(n__gte=2)
        pick = candidates.order_by('clinician_id').first()
        if pick is None:
            raise CommandError(f'no clinician has two completed shifts in {first:%Y-%m}')
        chosen = list(in_month.filter(clinician_id=pick['clinician_id']).order_by('date', 'id'))
        return pick['clinician_id'], first, last, chosen

    @staticmethod
    def scope(clinician_id, first, last, detail):
        return {'clinicians': [clinician_id], 'period_start': first.isoformat(),
                'period_end': last.isoformat(), 'detail': detail}

    def unapplied_migration(self, clinician_id):
        call_command('migrate', 'config', '0002_auditlog_entity_timestamp_idx', verbosity=0)
        return {'clinicians': [], 'detail': 'config.0003_shift_constraints is no longer applied'}

    def race_condition(self, clinician_id):
        clinician_id, first, last, shifts = self.victim(clinician_id)
        target = shifts[0]
        # Both requests read the row before either writes.
        alices = Shift.objects.get(pk=target.pk)
        bobs = Shift.objects.get(pk=target.pk)
        with acting_as('alice'):
            alices.status = Shift.CANCELLED
            alices.save()
            recalculate(clinician_id, first, last)

        def bob_saves():
            with acting_as('bob'):
                bobs.duration += Decimal('0.50')
                bobs.save()
        # Bob's request is another connection, as it is in production.
        on_another_connection(bob_saves)
        return self.scope(clinician_id, first, last,
                          f'shift {target.pk} of clinician {clinician_id} on {target.date}: cancelled by alice, '
                          f'then completed again by bob\'s stale save; the summary misses it')

    def stale_cache(self, clinician_id):
        clinician_id, first, last, shifts = self.victim(clinician_id)
        ids = [s.pk for s in shifts[:2]]
        Shift.objects.filter(pk__in=ids).update(status=Shift.CANCELLED, updated_at=timezone.now())
        recalculate(clinician_id, first, last, cache_figures=False)
        return self.scope(clinician_id, first, last,
                          f'shifts {ids} of clinician {clinician_id} cancelled in bulk; summary recomputed, '
                          f'cache not')

    def constraint_bypass(self, clinician_id):
        clinician_id, first, last, shifts = self.victim(clinician_id)
        ids = [s.pk for s in shifts[:2]]
        used = set(Shift.objects.filter(clinician_id=clinician_id, date__gte=first, date__lte=last,
                                        type=Shift.ON_CALL).values_list('date', flat=True))
        free_day = next(d for d in (first.replace(day=n) for n in range(1, last.day + 1)) if d not in used)
        table = Shift._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT config_shift_unique_clinician_date_type')
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT config_shift_duration_positive')
            cursor.execute(
                f'INSERT INTO {table} (clinician_id, date, type, duration, status, created_at, updated_at) '
                f'SELECT clinician_id, date, type, duration, status, now(), now() FROM {table} WHERE id = ANY(%s)',
                [ids])
            cursor.execute(
                f'INSERT INTO {table} (clinician_id, date, type, duration, status, created_at, updated_at) '
                f"VALUES (%s, %s, 'ON_CALL', 0, 'COMPLETED', now(), now())", [clinician_id, free_day])
            # The foreign-key checks of the new rows are deferred; ALTER TABLE
            # refuses to run while they are pending.
            cursor.execute('SET CONSTRAINTS ALL IMMEDIATE')
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT config_shift_duration_positive '
                           f'CHECK (duration > 0) NOT VALID')
        return self.scope(clinician_id, first, last,
                          f'shifts {ids} of clinician {clinician_id} duplicated and a zero-hour shift added on '
                          f'{free_day}; unique constraint gone, duration CHECK NOT VALID')

    def business_rule(self, clinician_id):
        wrong = ShiftCounter('not-cancelled')
        ranges = ShiftSummary.objects.values('clinician_id').annotate(
            start=Min('period_start'), end=Max('period_end')).order_by('clinician_id')
        if clinician_id is not None:
            ranges = ranges.filter(clinician_id=clinician_id)
        if not ranges:
            raise CommandError('no stored summaries to recalculate; run `manage.py seed_clinic` first')
        for r in ranges:
            recalculate(r['clinician_id'], r['start'], r['end'], counter=wrong)
        affected = sorted(set(Shift.objects.filter(
            status=Shift.SCHEDULED, clinician_id__in=[r['clinician_id'] for r in ranges]).values_list(
            'clinician_id', flat=True)))
        return {'clinicians': affected, 'detail': f'{len(ranges)} clinicians recalculated with scheduled shifts '
                                                  f'counted as worked; {len(affected)} now have wrong figures'}
