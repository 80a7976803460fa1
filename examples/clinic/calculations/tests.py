"""Business-rule tests: what the runbook's "all tests pass" means.

Run with `manage.py test calculations` against PostgreSQL (the database
constraints are part of the rule)."""
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings

from config.models import AuditLog, Clinician, Shift

from .deficiency import calculate_deficiency
from .models import ShiftSummary
from .shift_counter import ShiftCounter, shift_count_key
from .tasks import recalculate_clinician

LOCAL_CACHE = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}


def clinician(contracted=4, name='Dr Test'):
    return Clinician.objects.create(name=name, email='test@clinic.example',
                                    contracted_shifts=contracted)


def shift(who, day, status=Shift.COMPLETED, type=Shift.DAY, duration='8.00'):
    return Shift.objects.create(clinician=who, date=day, type=type,
                                duration=Decimal(duration), status=status)


class WorkedShiftRuleTests(TestCase):
    def setUp(self):
        self.who = clinician()
        self.counter = ShiftCounter()

    def count(self, start=date(2024, 1, 1), end=date(2024, 1, 31)):
        return self.counter.count_worked_shifts(self.who, start, end)

    def test_completed_shifts_count(self):
        shift(self.who, date(2024, 1, 2))
        shift(self.who, date(2024, 1, 3), type=Shift.NIGHT, duration='12.00')
        self.assertEqual(self.count(), 2)

    def test_cancelled_and_scheduled_shifts_never_count(self):
        shift(self.who, date(2024, 1, 2), status=Shift.CANCELLED)
        shift(self.who, date(2024, 1, 3), status=Shift.SCHEDULED)
        shift(self.who, date(2024, 1, 4))
        self.assertEqual(self.count(), 1)

    def test_range_is_inclusive(self):
        shift(self.who, date(2024, 1, 1))
        shift(self.who, date(2024, 1, 31))
        shift(self.who, date(2024, 2, 1))
        self.assertEqual(self.count(), 2)

    def test_other_clinicians_shifts_do_not_count(self):
        shift(clinician(name='Dr Other'), date(2024, 1, 2))
        self.assertEqual(self.count(), 0)


class DatabaseConstraintTests(TestCase):
    def setUp(self):
        self.who = clinician()

    def test_duration_must_be_positive(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            shift(self.who, date(2024, 1, 2), duration='0.00')

    def test_one_shift_per_clinician_date_and_type(self):
        shift(self.who, date(2024, 1, 2))
        with self.assertRaises(IntegrityError), transaction.atomic():
            shift(self.who, date(2024, 1, 2))
        shift(self.who, date(2024, 1, 2), type=Shift.NIGHT)


class DeficiencyTests(TestCase):
    def setUp(self):
        self.who = clinician(contracted=3)

    def test_deficiency_is_contracted_minus_worked(self):
        shift(self.who, date(2024, 1, 2))
        self.assertEqual(calculate_deficiency(self.who, date(2024, 1, 1), date(2024, 1, 31)), 2)

    def test_deficiency_is_never_negative(self):
        for day in range(1, 6):
            shift(self.who, date(2024, 1, day))
        self.assertEqual(calculate_deficiency(self.who, date(2024, 1, 1), date(2024, 1, 31)), 0)

    def test_a_surplus_does_not_offset_another_month(self):
        for day in range(1, 6):
            shift(self.who, date(2024, 1, day))
        self.assertEqual(calculate_deficiency(self.who, date(2024, 1, 1), date(2024, 2, 29)), 3)

    def test_as_of_date_ignores_later_shifts_and_months(self):
        shift(self.who, date(2024, 1, 10))
        shift(self.who, date(2024, 1, 20))
        deficiency = calculate_deficiency(self.who, date(2024, 1, 1), date(2024, 3, 31),
                                          as_of_date=date(2024, 1, 15))
        self.assertEqual(deficiency, 2)


@override_settings(CACHES=LOCAL_CACHE)
class RecalculationTests(TestCase):
    def setUp(self):
        self.who = clinician(contracted=2)
        shift(self.who, date(2024, 1, 2))
        shift(self.who, date(2024, 1, 3), status=Shift.CANCELLED)
        shift(self.who, date(2024, 2, 5))
        shift(self.who, date(2024, 2, 6))
        shift(self.who, date(2024, 2, 7))

    def test_task_stores_monthly_summaries_and_caches_counts(self):
        from django.core.cache import cache

        result = recalculate_clinician(self.who.pk, '2024-01-01', '2024-02-29')

        self.assertEqual(result['worked_shifts'], 4)
        summaries = ShiftSummary.objects.filter(clinician=self.who).order_by('period_start')
        self.assertEqual([(s.period_start, s.period_end, s.worked_shifts, s.deficiency) for s in summaries],
                         [(date(2024, 1, 1), date(2024, 1, 31), 1, 1),
                          (date(2024, 2, 1), date(2024, 2, 29), 3, 0)])
        self.assertEqual(cache.get(shift_count_key(self.who.pk, date(2024, 1, 1), date(2024, 1, 31))), 1)
        self.assertEqual(cache.get(shift_count_key(self.who.pk, date(2024, 1, 1), date(2024, 2, 29))), 4)

    def test_recalculating_updates_the_summary_in_place(self):
        recalculate_clinician(self.who.pk, '2024-01-01', '2024-01-31')
        shift(self.who, date(2024, 1, 9))
        recalculate_clinician(self.who.pk, '2024-01-01', '2024-01-31')

        summary = ShiftSummary.objects.get(clinician=self.who)
        self.assertEqual((summary.worked_shifts, summary.deficiency), (2, 0))


class AuditTests(TestCase):
    def test_shift_changes_are_audited(self):
        s = shift(clinician(), date(2024, 1, 10))
        s.status = Shift.CANCELLED
        s.save()

        log = AuditLog.objects.filter(entity_type='Shift', entity_id=s.pk).order_by('id')
        self.assertEqual([entry.action for entry in log], ['CREATE', 'UPDATE'])
        self.assertEqual(log[1].changes, {'status': ['COMPLETED', 'CANCELLED']})
