"""Deadline arithmetic over the working-day calendar (pure functions, cached per year).

Rules (all in local time, ``settings.TIME_ZONE`` = Asia/Shanghai):

* **Working days.** A date is a working day if its ``CalendarDay`` row says so;
  a date without a row (a year not yet entered) falls back to Monday to
  Friday. A year whose ``CalendarYear`` is not complete is reported by
  ``missing_years`` so that the duty console can warn; deadlines computed
  over it are provisional and recomputed when the year is entered
  (``fengqiao.workdays.signals.calendar_changed``).
* **Working-day limits** (``add_working_days``): the day a case is received is
  not counted (期间开始之日不计算在内); the deadline is the *end*
  (23:59:59.999999) of the n-th working day after the day of receipt. A case
  received on a non-working day therefore starts counting on the next working
  day, which is day 1: received Friday evening or Saturday, "3 working days"
  both end on Wednesday at midnight (in a week without holidays).
  ``n = 0`` is the end of the day of receipt, or of the next working day when
  that day is not a working day.
* **Calendar-day limits** (``add_calendar_days``; the 信访工作条例 limits: 15
  days to decide on acceptance, 60 days to handle, one extension of up to 30):
  the day of receipt is not counted, the deadline is the end of the n-th
  day after it; when that day is not a working day the limit runs to the end
  of the next working day (期间届满的最后一日是节假日的，以节假日后的第一日为期间届满的日期).
* **Suspension** (``working_days_between``): the clock stops while a case is
  suspended; on resume the deadline moves by the number of working days
  whose date lies after the suspension's date, up to and including the
  resumption's date: suspended Monday, resumed Wednesday → 2 days;
  suspended and resumed on the same day → 0. ``add_working_days(due, k)``
  then moves a deadline (the end of a working day) by exactly k working days.
* **Elapsed fraction** (``elapsed_fraction``): the share of the working time
  between start and deadline that has passed; working time counts the whole
  24 hours of each working day and nothing of the other days (deadlines end
  at midnight, so this is the clerk's "days used"). Above 1 once overdue.

Caching: each process keeps the days of each year it has read. Every
computation first reads the ``(year, version, complete)`` triples of
``CalendarYear`` (one small query; services give a year a new random version
whenever one of its days changes), so a change made by another process is
seen by the next computation. For many computations at once (the sweeper),
take one snapshot with ``load_calendar()`` and pass it as ``calendar=``.
"""

from __future__ import annotations

import datetime as dt
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from .models import CalendarDay, CalendarYear

DAY_SECONDS = 86400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
END_OF_DAY = dt.time(23, 59, 59, 999999)

DateLike = dt.date | dt.datetime


@dataclass(frozen=True)
class _Year:
    year: int
    version: str  # "" when the year has no CalendarYear row
    complete: bool
    flags: bytes  # flags[i] == 1: the (i+1)-th day of the year is a working day
    prefix: array  # prefix[i]: working days among the first i days of the year (len = days + 1)
    first_ordinal: int  # date(year, 1, 1).toordinal()


_cache: dict[int, _Year] = {}
_lock = threading.Lock()


def invalidate(years: Iterable[int] | None = None) -> None:
    """Forget this process's cached days (of ``years``, or all)."""
    with _lock:
        if years is None:
            _cache.clear()
        else:
            for year in years:
                _cache.pop(int(year), None)


def on_calendar_changed(sender: Any = None, years: Iterable[int] | None = None, **kwargs: Any) -> None:
    invalidate(years)


def _versions() -> dict[int, tuple[str, bool]]:
    return {
        year: (str(version), complete)
        for year, version, complete in CalendarYear.objects.values_list("year", "version", "complete")
    }


def _load_year(year: int, version: str, complete: bool) -> _Year:
    first = dt.date(year, 1, 1)
    days = (dt.date(year + 1, 1, 1) - first).days if year < dt.MAXYEAR else 365
    # fallback: Monday to Friday
    flags = bytearray(1 if (first + dt.timedelta(days=i)).weekday() < 5 else 0 for i in range(days))
    rows = CalendarDay.objects.filter(date__gte=first, date__lte=dt.date(year, 12, 31)).values_list(
        "date", "is_workday"
    )
    for day, working in rows:
        flags[(day - first).days] = 1 if working else 0
    prefix = array("i", [0]) * (days + 1)
    for i, flag in enumerate(flags):
        prefix[i + 1] = prefix[i] + flag
    return _Year(
        year=year,
        version=version,
        complete=complete,
        flags=bytes(flags),
        prefix=prefix,
        first_ordinal=first.toordinal(),
    )


class Calendar:
    """A consistent snapshot of the calendar for a batch of computations.

    Years are read lazily (from this process's cache when its version is current).
    """

    def __init__(self, versions: dict[int, tuple[str, bool]] | None = None) -> None:
        self._versions = _versions() if versions is None else versions
        self._years: dict[int, _Year] = {}
        self._tz = timezone.get_default_timezone()
        self._origin: int | None = None  # working_time counts from 1 January of this year
        self._before: dict[int, int] = {}  # year -> working days from the origin to 1 January of the year
        self._offsets: dict[int, float] = {}  # hour since the epoch -> UTC offset (seconds)
        self._days: dict[int, tuple[float, bool]] = {}  # day since the epoch -> (working seconds before, working?)

    def _year(self, year: int) -> _Year:
        data = self._years.get(year)
        if data is not None:
            return data
        version, complete = self._versions.get(year, ("", False))
        data = _cache.get(year)
        if data is None or data.version != version or data.complete != complete:
            data = _load_year(year, version, complete)
            with _lock:
                _cache[year] = data
        self._years[year] = data
        return data

    def is_complete(self, year: int) -> bool:
        return self._versions.get(year, ("", False))[1]

    def is_workday(self, day: dt.date) -> bool:
        data = self._year(day.year)
        return data.flags[day.timetuple().tm_yday - 1] == 1

    def count_workdays(self, first: dt.date, last: dt.date) -> int:
        """Working days from ``first`` to ``last``, both included (0 if ``last`` is before ``first``)."""
        if last < first:
            return 0
        total = 0
        for year in range(first.year, last.year + 1):
            data = self._year(year)
            lo = first.timetuple().tm_yday - 1 if year == first.year else 0
            hi = last.timetuple().tm_yday if year == last.year else len(data.flags)
            total += data.prefix[hi] - data.prefix[lo]
        return total

    def next_workday(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def missing_years(self, years: Iterable[int]) -> set[int]:
        return {year for year in years if not self.is_complete(year)}

    def _days_before(self, year: int) -> int:
        if self._origin is None:
            self._origin = year
            self._before[year] = 0
        known = self._before.get(year)
        if known is not None:
            return known
        if year > self._origin:
            last = max(y for y in self._before if y < year)
            total = self._before[last]
            for y in range(last, year):
                total += self._year(y).prefix[-1]
                self._before[y + 1] = total
        else:
            first = min(y for y in self._before if y > year)
            total = self._before[first]
            for y in range(first - 1, year - 1, -1):
                total -= self._year(y).prefix[-1]
                self._before[y] = total
        return self._before[year]

    def working_time(self, moment: dt.datetime) -> float:
        """Working seconds from this snapshot's origin to ``moment`` (O(1) once its year is loaded).

        Only differences mean something: ``working_time(b) - working_time(a)`` equals
        ``working_seconds_between(a, b)``. For computing many fractions at once (the sweeper).
        """
        local = moment.astimezone(self._tz)
        day = local.date()
        data = self._year(day.year)
        index = day.toordinal() - data.first_ordinal
        seconds = float((self._days_before(day.year) + data.prefix[index]) * DAY_SECONDS)
        if data.flags[index]:
            seconds += local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000
        return seconds

    def working_time_epoch(self, epoch: float) -> float:
        """``working_time`` of the moment ``epoch`` (seconds since 1970-01-01 UTC), faster: no datetime objects.

        Each local day is looked up once per snapshot; each hour's UTC offset once.
        """
        hour = int(epoch // 3600)
        offset = self._offsets.get(hour)
        if offset is None:
            moment = dt.datetime.fromtimestamp(hour * 3600, tz=dt.UTC).astimezone(self._tz)
            delta = moment.utcoffset()
            offset = self._offsets[hour] = delta.total_seconds() if delta is not None else 0.0
        local = epoch + offset
        day = int(local // DAY_SECONDS)
        entry = self._days.get(day)
        if entry is None:
            date = dt.date.fromordinal(day + _EPOCH_ORDINAL)
            data = self._year(date.year)
            index = day + _EPOCH_ORDINAL - data.first_ordinal
            before = (self._days_before(date.year) + data.prefix[index]) * DAY_SECONDS
            entry = self._days[day] = (float(before), data.flags[index] == 1)
        before_seconds, working = entry
        if working:
            return before_seconds + (local - day * DAY_SECONDS)
        return before_seconds


def load_calendar() -> Calendar:
    """A snapshot for many computations (one query for the year versions, days read as needed)."""
    return Calendar()


# --- helpers -----------------------------------------------------------------------


def local_date(value: DateLike) -> dt.date:
    """The local (Asia/Shanghai) date of an aware datetime; a date as it is."""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError("naive datetime: deadlines need aware datetimes")
        return timezone.localtime(value).date()
    return value


def end_of_day(day: dt.date) -> dt.datetime:
    """23:59:59.999999 local time on ``day`` (aware)."""
    return timezone.make_aware(dt.datetime.combine(day, END_OF_DAY), timezone.get_default_timezone())


def _seconds_into_day(moment: dt.datetime) -> float:
    local = timezone.localtime(moment)
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000


def _cal(calendar: Calendar | None) -> Calendar:
    return calendar if calendar is not None else Calendar()


# --- the public functions ----------------------------------------------------------


def is_workday(day: DateLike, *, calendar: Calendar | None = None) -> bool:
    """Is ``day`` (a date, or the local date of an aware datetime) a working day?"""
    return _cal(calendar).is_workday(local_date(day))


def missing_years(dates: Iterable[DateLike | int], *, calendar: Calendar | None = None) -> set[int]:
    """The years of ``dates`` (dates, aware datetimes or years) that are not complete in the calendar.

    Days of those years without a row are computed with the Monday–Friday fallback.
    """
    years = {d if isinstance(d, int) else local_date(d).year for d in dates}
    return _cal(calendar).missing_years(years)


def missing_years_between(start: DateLike, end: DateLike, *, calendar: Calendar | None = None) -> set[int]:
    """The incomplete years a computation from ``start`` to ``end`` went through."""
    return missing_years(years_between(start, end), calendar=calendar)


def years_between(start: DateLike, end: DateLike) -> list[int]:
    """Every year from ``start``'s to ``end``'s (the years a deadline computation has used)."""
    a, b = local_date(start).year, local_date(end).year
    return list(range(min(a, b), max(a, b) + 1))


def add_working_days(start: dt.datetime, n: int, *, calendar: Calendar | None = None) -> dt.datetime:
    """The end of the n-th working day after ``start``'s day (see the module docstring for the rule)."""
    if n < 0:
        raise ValueError("n must not be negative")
    cal = _cal(calendar)
    day = local_date(start)
    if n == 0:
        return end_of_day(cal.next_workday(day))
    counted = 0
    one = dt.timedelta(days=1)
    while counted < n:
        day += one
        if cal.is_workday(day):
            counted += 1
    return end_of_day(day)


def add_calendar_days(
    start: dt.datetime, n: int, *, roll_forward: bool = True, calendar: Calendar | None = None
) -> dt.datetime:
    """The end of the n-th calendar day after ``start``'s day; moved to the end of the next working day
    when that day is not a working day (unless ``roll_forward`` is False)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = local_date(start) + dt.timedelta(days=n)
    if roll_forward:
        day = _cal(calendar).next_workday(day)
    return end_of_day(day)


def working_days_between(a: DateLike, b: DateLike, *, calendar: Calendar | None = None) -> int:
    """Working days whose date is after ``a``'s date and up to ``b``'s date (negative when b is before a)."""
    cal = _cal(calendar)
    da, db = local_date(a), local_date(b)
    one = dt.timedelta(days=1)
    if db >= da:
        return cal.count_workdays(da + one, db)
    return -cal.count_workdays(db + one, da)


def working_seconds_between(a: dt.datetime, b: dt.datetime, *, calendar: Calendar | None = None) -> float:
    """Working time from ``a`` to ``b`` in seconds (every second of a working day counts; negative if b < a)."""
    if b < a:
        return -working_seconds_between(b, a, calendar=calendar)
    cal = _cal(calendar)
    da, db = local_date(a), local_date(b)
    seconds = float(cal.count_workdays(da, db - dt.timedelta(days=1)) * DAY_SECONDS)
    if cal.is_workday(da):
        seconds -= _seconds_into_day(a)
    if cal.is_workday(db):
        seconds += _seconds_into_day(b)
    return seconds


def elapsed_fraction(
    start: dt.datetime, due: dt.datetime, now: dt.datetime, *, calendar: Calendar | None = None
) -> float:
    """Share of the working time from ``start`` to ``due`` used at ``now`` (0 before start; above 1 when overdue)."""
    cal = _cal(calendar)
    total = working_seconds_between(start, due, calendar=cal)
    if total <= 0:
        return 1.0 if now >= due else 0.0
    return max(0.0, working_seconds_between(start, now, calendar=cal) / total)


def moment_at_fraction(
    start: dt.datetime, due: dt.datetime, fraction: float, *, calendar: Calendar | None = None
) -> dt.datetime:
    """The first moment at which ``elapsed_fraction(start, due, moment)`` reaches ``fraction`` (0 ≤ f ≤ 1).

    The inverse of ``elapsed_fraction``: the sweeper and the pages use it to show "reminder due at ...".
    """
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    cal = _cal(calendar)
    total = working_seconds_between(start, due, calendar=cal)
    if total <= 0:
        return due
    target = total * fraction
    if target <= 0:
        return start
    # walk the working days from start's day; the answer lies inside the day where the target is reached
    day = local_date(start)
    used = 0.0
    offset = _seconds_into_day(start)
    one = dt.timedelta(days=1)
    while True:
        if cal.is_workday(day):
            available = DAY_SECONDS - offset
            if used + available >= target:
                seconds = offset + (target - used)
                midnight = timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_default_timezone())
                return min(midnight + dt.timedelta(seconds=seconds), due)
            used += available
        day += one
        offset = 0.0
