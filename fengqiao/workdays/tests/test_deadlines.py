"""Deadline arithmetic: known dates of the real 2025/2026 calendar, the fallback for 2027, and properties."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.audit.tests.factories import make_user
from fengqiao.workdays import deadlines as d
from fengqiao.workdays.services import set_day, set_year_complete

from .factories import at, seed_calendar

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def seeded() -> None:
    seed_calendar(2024, 2025, 2026)


@pytest.fixture
def admin():
    return make_user(["workdays.change_calendarday"], username="caladmin")


def day_of(moment: dt.datetime) -> dt.date:
    return d.local_date(moment)


# --- the real calendar ----------------------------------------------------------------------


def test_seeded_days_agree_with_chinese_calendar(seeded) -> None:
    cal = d.load_calendar()
    day = D(2024, 1, 1)
    while day <= D(2026, 12, 31):
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)
    assert d.missing_years([D(2025, 5, 1), D(2026, 10, 1)]) == set()


def test_2026_national_day_and_make_up_saturday(seeded) -> None:
    # chinese_calendar 1.11.0: 1–7 October 2026 off; Saturday 10 October and Sunday 20 September are working days
    assert not d.is_workday(D(2026, 10, 1)) and not d.is_workday(D(2026, 10, 7))
    assert d.is_workday(D(2026, 10, 10)) and d.is_workday(D(2026, 9, 20))
    # received Wednesday 30 September: Thu 8, Fri 9, Sat 10 October are the three working days
    due = d.add_working_days(at(2026, 9, 30, 16), 3)
    assert due == d.end_of_day(D(2026, 10, 10))
    assert due.hour == 23 and due.minute == 59 and due.second == 59 and due.microsecond == 999999
    # received during the holiday: counting starts with the first working day (Thursday 8 October = day 1)
    assert day_of(d.add_working_days(at(2026, 10, 3), 1)) == D(2026, 10, 8)
    assert day_of(d.add_working_days(at(2026, 10, 3), 7)) == D(2026, 10, 15)  # 8, 9, 10 (Sat), 12–15


def test_2026_spring_festival(seeded) -> None:
    # 15–23 February 2026 off, Saturdays 14 and 28 February are working days
    assert [d.is_workday(D(2026, 2, x)) for x in (13, 14, 15, 23, 24, 28)] == [True, True, False, False, True, True]
    assert day_of(d.add_working_days(at(2026, 2, 13), 1)) == D(2026, 2, 14)
    assert day_of(d.add_working_days(at(2026, 2, 13), 2)) == D(2026, 2, 24)
    assert d.working_days_between(at(2026, 2, 13), at(2026, 2, 28)) == 1 + 4 + 1  # 14th, 24th–27th, 28th


def test_2025_national_day(seeded) -> None:
    # 1–8 October 2025 off (National Day and Mid-autumn), Sunday 28 September and Saturday 11 October worked
    assert d.is_workday(D(2025, 9, 28)) and d.is_workday(D(2025, 10, 11))
    assert not any(d.is_workday(D(2025, 10, x)) for x in range(1, 9))
    due = d.add_working_days(at(2025, 9, 30), 7)  # 9, 10, 11, 13, 14, 15, 16 October
    assert day_of(due) == D(2025, 10, 16)


def test_calendar_day_limits_of_the_petition_regulation(seeded) -> None:
    received = at(2026, 9, 16, 9)
    # 15 days: 1 October is a holiday, so the limit runs to the first working day after the holiday
    assert day_of(d.add_calendar_days(received, 15)) == D(2026, 10, 8)
    assert day_of(d.add_calendar_days(received, 15, roll_forward=False)) == D(2026, 10, 1)
    # 60 days from 2 March 2026 is Friday 1 May (Labour Day, off until the 5th): runs to Wednesday 6 May
    assert day_of(d.add_calendar_days(at(2026, 3, 2), 60)) == D(2026, 5, 6)
    # a 30-day extension counts from the original deadline
    assert day_of(d.add_calendar_days(d.end_of_day(D(2026, 5, 6)), 30)) == D(2026, 6, 5)


def test_suspension_moves_the_deadline_by_the_working_days_suspended(seeded) -> None:
    due = d.add_working_days(at(2026, 3, 2), 7)  # Monday + 7 → Wednesday 11 March
    assert day_of(due) == D(2026, 3, 11)
    suspended, resumed = at(2026, 3, 4, 15), at(2026, 3, 9, 11)  # Wed → next Mon: Thu, Fri, Mon = 3
    spent = d.working_days_between(suspended, resumed)
    assert spent == 3
    assert day_of(d.add_working_days(due, spent)) == D(2026, 3, 16)
    assert d.working_days_between(suspended, at(2026, 3, 4, 18)) == 0
    assert d.working_days_between(resumed, suspended) == -3


def test_elapsed_fraction_counts_only_working_time(seeded) -> None:
    start = at(2026, 3, 6, 12)  # Friday noon
    due = d.add_working_days(start, 2)  # end of Tuesday 10 March
    total = d.working_seconds_between(start, due)
    assert total == pytest.approx(2.5 * 86400, abs=0.01)
    assert d.elapsed_fraction(start, due, at(2026, 3, 8, 20)) == pytest.approx(0.5 / 2.5)  # the weekend is free
    assert d.elapsed_fraction(start, due, at(2026, 3, 9, 12)) == pytest.approx(1.0 / 2.5)
    assert d.elapsed_fraction(start, due, due) == pytest.approx(1.0)
    assert d.elapsed_fraction(start, due, at(2026, 3, 11, 12)) == pytest.approx(3.0 / 2.5)
    assert d.elapsed_fraction(start, due, at(2026, 3, 1)) == 0.0
    half = d.moment_at_fraction(start, due, 0.5)
    assert abs(half - at(2026, 3, 9, 18)) < dt.timedelta(
        seconds=1
    )  # 1.25 working days: Friday afternoon + Monday until 18:00


def test_naive_datetimes_are_refused(seeded) -> None:
    with pytest.raises(ValueError):
        d.add_working_days(dt.datetime(2026, 3, 2, 10), 3)
    with pytest.raises(ValueError):
        d.add_working_days(at(2026, 3, 2), -1)


# --- 2027: not in chinese_calendar 1.11.0 ----------------------------------------------------


def test_2027_is_unknown_to_chinese_calendar() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2027, 1, 4))


def test_2027_falls_back_to_weekdays_until_entered(seeded, admin) -> None:
    received = at(2026, 12, 30, 10)  # Wednesday
    due = d.add_working_days(received, 3)
    # Thursday 31 December, then Friday 1 January 2027 counts as a weekday, then Monday 4 January
    assert day_of(due) == D(2027, 1, 4)
    assert d.missing_years(d.years_between(received, due)) == {2027}
    assert d.missing_years([received]) == set()

    # an administrator enters New Year's Day 2027: the same computation now skips it
    set_day(D(2027, 1, 1), is_workday=False, name="元旦", actor=admin)
    assert day_of(d.add_working_days(received, 3)) == D(2027, 1, 5)
    assert d.missing_years([due]) == {2027}  # still provisional until the year is complete
    set_year_complete(2027, actor=admin)
    assert d.missing_years([due]) == set()
    assert day_of(d.add_working_days(received, 3)) == D(2027, 1, 5)


def test_a_change_by_another_process_is_seen(seeded, admin) -> None:
    """The per-process cache checks the year's version: a change written elsewhere is picked up."""
    assert d.is_workday(D(2026, 7, 1))
    from fengqiao.workdays.models import CalendarDay, CalendarYear

    CalendarDay.objects.filter(date=D(2026, 7, 1)).update(is_workday=False, kind="holiday")
    assert d.is_workday(D(2026, 7, 1))  # same version: still the cached answer
    import uuid

    CalendarYear.objects.filter(year=2026).update(version=uuid.uuid4())
    assert not d.is_workday(D(2026, 7, 1))


def test_a_snapshot_reads_each_year_once(seeded) -> None:
    d.invalidate()
    cal = d.load_calendar()
    with CaptureQueriesContext(connection) as ctx:
        for n in range(1, 60):
            d.add_working_days(at(2025, 11, 3), n, calendar=cal)
    assert len(ctx.captured_queries) == 2  # the days of 2025 and of 2026, once


# --- properties ---------------------------------------------------------------------------------

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

starts = st.builds(
    lambda day, minute: at(day.year, day.month, day.day, minute // 60, minute % 60),
    st.dates(min_value=D(2024, 1, 1), max_value=D(2027, 3, 31)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
counts = st.integers(min_value=1, max_value=90)


@FAST
@given(start=starts, n=counts)
def test_adding_then_counting_gives_n(seeded, start: dt.datetime, n: int) -> None:
    due = d.add_working_days(start, n)
    assert d.working_days_between(start, due) == n
    assert d.working_days_between(due, start) == -n


@FAST
@given(start=starts, n=st.integers(min_value=0, max_value=90))
def test_deadlines_fall_on_working_days_at_the_end_of_the_day(seeded, start: dt.datetime, n: int) -> None:
    for due in (d.add_working_days(start, n), d.add_calendar_days(start, n)):
        assert d.is_workday(due)
        assert due > start
        assert d.local_date(due + dt.timedelta(microseconds=1)) == d.local_date(due) + dt.timedelta(days=1)


@FAST
@given(start=starts, n=counts, k=st.integers(min_value=1, max_value=30))
def test_monotonic_and_additive(seeded, start: dt.datetime, n: int, k: int) -> None:
    due = d.add_working_days(start, n)
    later = d.add_working_days(start, n + k)
    assert due < later
    assert d.add_working_days(due, k) == later  # moving a deadline by k working days (resume after suspension)
    assert d.add_calendar_days(start, n) <= d.add_calendar_days(start, n + k)


@FAST
@given(start=starts, n=counts, fraction=st.floats(min_value=0.0, max_value=1.0))
def test_elapsed_fraction_inverts(seeded, start: dt.datetime, n: int, fraction: float) -> None:
    due = d.add_working_days(start, n)
    moment = d.moment_at_fraction(start, due, fraction)
    assert start <= moment <= due
    assert d.elapsed_fraction(start, due, moment) == pytest.approx(fraction, abs=1e-6)
    assert d.elapsed_fraction(start, due, start) == 0.0


@FAST
@given(a=starts, b=starts)
def test_working_time_differences_are_working_seconds(seeded, a: dt.datetime, b: dt.datetime) -> None:
    cal = d.load_calendar()
    assert cal.working_time(b) - cal.working_time(a) == pytest.approx(
        d.working_seconds_between(a, b, calendar=cal), abs=1e-3
    )


@FAST
@given(a=starts, b=starts)
def test_working_time_from_epoch_seconds(seeded, a: dt.datetime, b: dt.datetime) -> None:
    cal = d.load_calendar()
    assert cal.working_time_epoch(b.timestamp()) - cal.working_time_epoch(a.timestamp()) == pytest.approx(
        cal.working_time(b) - cal.working_time(a), abs=1e-3
    )
