"""Deficiency: contracted shifts not worked, per calendar month."""
import calendar
from datetime import date

from .shift_counter import ShiftCounter


def months(start, end):
    """(first day, last day) of every calendar month that overlaps
    [start, end]."""
    year, month = start.year, start.month
    while date(year, month, 1) <= end:
        last = calendar.monthrange(year, month)[1]
        yield date(year, month, 1), date(year, month, last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def month_deficiency(contracted, worked):
    """Never negative: a surplus is not a negative deficiency."""
    return max(contracted - worked, 0)


def calculate_deficiency(clinician, start_date, end_date, as_of_date=None, counter=None):
    """Shifts the clinician owes over [start_date, end_date], month by month:
    a surplus in one month does not offset another month's deficiency.
    Shifts after as_of_date are not known yet, so the range is cut there;
    the month containing as_of_date still owes its full contract."""
    counter = counter or ShiftCounter()
    cutoff = min(end_date, as_of_date) if as_of_date else end_date
    total = 0
    for first, last in months(start_date, cutoff):
        worked = counter.count_worked_shifts(clinician, max(first, start_date), min(last, cutoff))
        total += month_deficiency(clinician.contracted_shifts, worked)
    return total
