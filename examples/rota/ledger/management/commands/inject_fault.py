"""Break the rota the way the runbook's root causes break an application in
production, so the diagnosis and the fixes can be practised and tested."""
import argparse
import json
import textwrap
import threading
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min
from django.test.utils import override_settings
from django.utils import timezone

from ledger.counting import RULES, calendar_months
from ledger.models import MonthlyTally
from ledger.tallies import rebuild
from rostering.models import Duty

UNIQUE_COLUMNS = ['member_id', 'day', 'kind']

FAULTS = {
    'unapplied-migration': (
        'Unapply rostering.0002_duty_rules, as `manage.py migrate rostering 0001` does (a deploy '
        'that rolled the schema back, or never migrated). Its row leaves django_migrations and the '
        'database stops enforcing one duty per member, day and kind, positive hours '
        '(duty_hours_gt_zero) and known states (duty_state_known). `manage.py migrate` fixes it.'),
    'race-condition': (
        'Two people edit the same done duty at once: alice calls it off and the app rebuilds the '
        'month\'s tally; bob, working from the copy he read before, saves an hours correction and '
        'so writes "done" back. Tally and cache count one duty fewer than the source, and '
        'rostering_historicalduty has two "~" rows of the duty, by alice and by bob, within a second.'),
    'stale-cache': (
        'A data-correction script calls off two done duties with a bulk UPDATE (no history rows) '
        'and rebuilds the month\'s tally, but never touches the cache, whose keys do not expire: '
        'source and tally agree, the cached counts are two too high.'),
    'constraint-bypass': (
        'A bulk import drops the duty constraints to get its rows in: it duplicates two done '
        'duties and adds a zero-hour done one (raw SQL, no history), re-adds duty_hours_gt_zero as '
        'NOT VALID and cannot re-add the unique (member, day, kind). django_migrations still says '
        '0002_duty_rules is applied; the source now counts two duties more than tally and cache.'),
    'business-rule': (
        'A release that misread the rule (every duty not called off is "worked", planned and '
        'no-show ones too) rebuilt all stored tallies and cached counts. Tally and cache agree '
        'with each other and are too high wherever a duty is planned or missed. Running the worker '
        'or `manage.py test ledger` with ROTA_WORKED_RULE=not-called-off makes the code itself '
        'misbehave (the tests then fail).'),
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
    help = 'Inject one of the runbook\'s root causes into the rota database and cache.\n\n' + \
        '\n\n'.join(f'{name}:\n' + textwrap.fill(text, 78, initial_indent='  ', subsequent_indent='  ')
                     for name, text in FAULTS.items())

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Keep the faults' paragraphs apart in --help.
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument('--fault', required=True, choices=sorted(FAULTS))
        parser.add_argument('--member', type=int,
                            help='the member to hit (default: the first with two done duties in the latest month)')
        parser.add_argument('--json', action='store_true', help='print what was done as one JSON object')

    def handle(self, *args, **opts):
        fault = opts['fault']
        report = getattr(self, fault.replace('-', '_'))(opts['member'])
        report = {'fault': fault, 'member': None, 'members': [], 'from': None, 'to': None, **report}
        self.stdout.write(json.dumps(report) if opts['json'] else
                          f'injected {fault}: {report["detail"]}')

    def victim(self, member_id):
        """The member to hit (by default the first with two done duties in
        the latest month that has any), that month's bounds and the member's
        done duties in it."""
        duties = Duty.objects.filter(RULES['done-or-verified'], state=Duty.DONE)
        if member_id is not None:
            duties = duties.filter(member_id=member_id)
        latest = duties.aggregate(latest=Max('day'))['latest']
        if latest is None:
            whose = f' of member {member_id}' if member_id is not None else ''
            raise CommandError(f'no done duties{whose} to work with; run `manage.py seed_rota` first')
        first, last = next(calendar_months(latest, latest))
        in_month = duties.filter(day__gte=first, day__lte=last)
        pick = in_month.values('member_id').annotate(n=Count('id')).filter(n__gte=2).order_by('member_id').first()
        if pick is None:
            raise CommandError(f'no member has two done duties in {first:%Y-%m}')
        chosen = list(in_month.filter(member_id=pick['member_id']).order_by('day', 'id'))
        return pick['member_id'], first, last, chosen

    @staticmethod
    def scope(member_id, first, last, detail):
        return {'member': member_id, 'members': [member_id], 'from': first.isoformat(),
                'to': last.isoformat(), 'detail': detail}

    @staticmethod
    def user(name):
        return User.objects.get_or_create(username=name)[0]

    def unapplied_migration(self, member_id):
        call_command('migrate', 'rostering', '0001_initial', verbosity=0)
        return {'detail': 'rostering.0002_duty_rules is no longer applied'}

    def race_condition(self, member_id):
        member_id, first, last, duties = self.victim(member_id)
        target = duties[0]
        # Both people read the row before either writes.
        alices = Duty.objects.get(pk=target.pk)
        bobs = Duty.objects.get(pk=target.pk)
        alices.state = Duty.CALLED_OFF
        alices._history_user = self.user('alice')
        alices.save()
        rebuild(member_id, first, last)
        bob = self.user('bob')

        def bob_saves():
            bobs.hours += Decimal('0.5')
            bobs._history_user = bob
            bobs.save()
        # Bob's request is another connection, as it is in production.
        on_another_connection(bob_saves)
        return self.scope(member_id, first, last,
                          f'duty {target.pk} of member {member_id} on {target.day}: called off by alice, '
                          f'then done again by bob\'s stale save; the tally misses it')

    def stale_cache(self, member_id):
        member_id, first, last, duties = self.victim(member_id)
        ids = [d.pk for d in duties[:2]]
        Duty.objects.filter(pk__in=ids).update(state=Duty.CALLED_OFF, updated_at=timezone.now())
        rebuild(member_id, first, last, cache_figures=False)
        return self.scope(member_id, first, last,
                          f'duties {ids} of member {member_id} called off in bulk; tally rebuilt, cache not')

    def constraint_bypass(self, member_id):
        member_id, first, last, duties = self.victim(member_id)
        ids = [d.pk for d in duties[:2]]
        used = set(Duty.objects.filter(member_id=member_id, day__gte=first, day__lte=last,
                                       kind=Duty.STANDBY).values_list('day', flat=True))
        free_day = next(d for d in (first.replace(day=n) for n in range(1, last.day + 1)) if d not in used)
        table = Duty._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            unique = [name for name, c in connection.introspection.get_constraints(cursor, table).items()
                      if c['unique'] and not c['primary_key'] and c['columns'] == UNIQUE_COLUMNS]
            if len(unique) != 1:
                raise CommandError(f'expected one unique constraint on {table}{tuple(UNIQUE_COLUMNS)}, '
                                   f'found {unique}; is rostering.0002_duty_rules applied?')
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(unique[0])}')
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT duty_hours_gt_zero')
            cursor.execute(
                f'INSERT INTO {table} (member_id, day, kind, hours, state, updated_at) '
                f'SELECT member_id, day, kind, hours, state, now() FROM {table} WHERE id = ANY(%s)', [ids])
            cursor.execute(
                f'INSERT INTO {table} (member_id, day, kind, hours, state, updated_at) '
                f"VALUES (%s, %s, 'standby', 0, 'done', now())", [member_id, free_day])
            # The foreign-key checks of the new rows are deferred; ALTER TABLE
            # refuses to run while they are pending.
            cursor.execute('SET CONSTRAINTS ALL IMMEDIATE')
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT duty_hours_gt_zero CHECK (hours > 0) NOT VALID')
        return self.scope(member_id, first, last,
                          f'duties {ids} of member {member_id} duplicated and a zero-hour duty added on '
                          f'{free_day}; unique constraint {unique[0]} gone, duty_hours_gt_zero NOT VALID')

    def business_rule(self, member_id):
        ranges = MonthlyTally.objects.values('member_id').annotate(
            start=Min('month_start'), end=Max('month_end')).order_by('member_id')
        if member_id is not None:
            ranges = ranges.filter(member_id=member_id)
        ranges = list(ranges)
        if not ranges:
            raise CommandError('no stored tallies to rebuild; run `manage.py seed_rota` first')
        with override_settings(ROTA_WORKED_RULE='not-called-off'):
            for r in ranges:
                rebuild(r['member_id'], r['start'], r['end'])
        # Counted by the misreading, not by the rule.
        misread = Duty.objects.filter(RULES['not-called-off']).exclude(RULES['done-or-verified'])
        affected = [r['member_id'] for r in ranges
                    if misread.filter(member_id=r['member_id'], day__gte=r['start'], day__lte=r['end']).exists()]
        return {'member': affected[0] if affected else None, 'members': affected,
                'from': min(r['start'] for r in ranges).isoformat(),
                'to': max(r['end'] for r in ranges).isoformat(),
                'detail': f'{len(ranges)} members rebuilt with planned and no-show duties counted as worked; '
                          f'{len(affected)} now have wrong figures'}
