"""Business-rule tests: what the runbook's "all tests pass" means.

Run with `manage.py test ledger` against PostgreSQL (the database
constraints are part of the rule)."""
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings

from rostering.models import Duty
from staff.models import Member

from .counting import tally_cache_key, worked_duties
from .jobs import rebuild_tally
from .models import MonthlyTally

LOCAL_CACHE = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}


def member(quota=4, name='Test Member'):
    return Member.objects.create(full_name=name, email='test@rota.example', monthly_quota=quota)


def duty(who, day, state=Duty.DONE, kind=Duty.EARLY, hours='7.5'):
    return Duty.objects.create(member=who, day=day, kind=kind, hours=Decimal(hours), state=state)


class WorkedDutyRuleTests(TestCase):
    def setUp(self):
        self.who = member()

    def count(self, first=date(2024, 3, 1), last=date(2024, 3, 31)):
        return worked_duties(self.who, first, last)

    def test_done_and_verified_duties_count(self):
        duty(self.who, date(2024, 3, 4))
        duty(self.who, date(2024, 3, 5), state=Duty.VERIFIED, kind=Duty.NIGHT, hours='10.0')
        self.assertEqual(self.count(), 2)

    def test_planned_and_called_off_duties_never_count(self):
        duty(self.who, date(2024, 3, 4), state=Duty.PLANNED)
        duty(self.who, date(2024, 3, 5), state=Duty.CALLED_OFF)
        duty(self.who, date(2024, 3, 6), state=Duty.NO_SHOW)
        duty(self.who, date(2024, 3, 7))
        self.assertEqual(self.count(), 1)

    def test_range_is_inclusive(self):
        duty(self.who, date(2024, 3, 1))
        duty(self.who, date(2024, 3, 31))
        duty(self.who, date(2024, 4, 1))
        self.assertEqual(self.count(), 2)

    def test_other_members_duties_do_not_count(self):
        duty(member(name='Someone Else'), date(2024, 3, 4))
        self.assertEqual(self.count(), 0)

    def test_a_member_id_will_do(self):
        duty(self.who, date(2024, 3, 4))
        self.assertEqual(worked_duties(self.who.pk, date(2024, 3, 1), date(2024, 3, 31)), 1)

    def test_counting_is_one_query(self):
        duty(self.who, date(2024, 3, 4))
        with self.assertNumQueries(1):
            self.count()


class DatabaseConstraintTests(TestCase):
    def setUp(self):
        self.who = member()

    def test_hours_must_be_positive(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            duty(self.who, date(2024, 3, 4), hours='0.0')

    def test_one_duty_per_member_day_and_kind(self):
        duty(self.who, date(2024, 3, 4))
        with self.assertRaises(IntegrityError), transaction.atomic():
            duty(self.who, date(2024, 3, 4))
        duty(self.who, date(2024, 3, 4), kind=Duty.LATE)

    def test_state_must_be_known(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            duty(self.who, date(2024, 3, 4), state='skipped')


@override_settings(CACHES=LOCAL_CACHE)
class TallyTests(TestCase):
    def setUp(self):
        self.who = member(quota=2)
        duty(self.who, date(2024, 1, 2))
        duty(self.who, date(2024, 1, 3), state=Duty.CALLED_OFF)
        duty(self.who, date(2024, 2, 5))
        duty(self.who, date(2024, 2, 6), state=Duty.VERIFIED)
        duty(self.who, date(2024, 2, 7))

    def tallies(self):
        return [(t.month_start, t.month_end, t.duties_worked, t.shortfall)
                for t in MonthlyTally.objects.filter(member=self.who).order_by('month_start')]

    def test_job_stores_monthly_tallies_and_caches_counts(self):
        from django.core.cache import cache

        result = rebuild_tally(self.who.pk, '2024-01-01', '2024-02-29')

        self.assertEqual(result['duties_worked'], 4)
        # A surplus in February does not offset January's shortfall.
        self.assertEqual(self.tallies(), [(date(2024, 1, 1), date(2024, 1, 31), 1, 1),
                                          (date(2024, 2, 1), date(2024, 2, 29), 3, 0)])
        self.assertEqual(cache.get(tally_cache_key(self.who.pk, date(2024, 1, 1), date(2024, 1, 31))), 1)
        self.assertEqual(cache.get(tally_cache_key(self.who.pk, date(2024, 1, 1), date(2024, 2, 29))), 4)

    def test_rebuilding_updates_the_tally_in_place(self):
        rebuild_tally(self.who.pk, '2024-01-01', '2024-01-31')
        duty(self.who, date(2024, 1, 9))
        rebuild_tally(self.who.pk, '2024-01-01', '2024-01-31')
        self.assertEqual(self.tallies(), [(date(2024, 1, 1), date(2024, 1, 31), 2, 0)])

    def test_cache_key(self):
        self.assertEqual(tally_cache_key(7, date(2025, 1, 1), date(2025, 1, 31)),
                         'tally/2025-01-01/2025-01-31/member-7')


class HistoryTests(TestCase):
    def test_every_save_is_recorded_with_who_saved(self):
        alice = User.objects.create(username='alice')
        d = duty(member(), date(2024, 3, 4))
        d.state = Duty.CALLED_OFF
        d._history_user = alice
        d.save()

        rows = list(d.history.order_by('history_id').values_list(
            'history_type', 'state', 'history_user__username'))
        self.assertEqual(rows, [('+', 'done', None), ('~', 'called_off', 'alice')])
