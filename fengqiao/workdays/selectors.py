"""Reading the working-day calendar for the pages, and the warnings about incomplete years.

``calendar_warnings()`` is what the duty console and the calendar page show:
one message per year that open deadlines use (or the current year) whose
calendar is not complete. The years used by open deadlines come from the
callables named in ``settings.FENGQIAO_DEADLINE_YEAR_SOURCES`` (each returns
``{year: number of open deadlines in it}`` or an iterable of years), so the
calendar does not depend on the apps that use it.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import CalendarDay, CalendarYear, DayKind

logger = logging.getLogger(__name__)


def years(user: Any, action: str = "view") -> QuerySet[CalendarYear]:
    """The year rows go with the days: one permission (``workdays.view_calendarday``) covers both."""
    if not _may(user, action):
        return CalendarYear.objects.none()
    return CalendarYear.objects.all()


def _may(user: Any, action: str) -> bool:
    return bool(getattr(user, "is_active", False) and user.has_perm(f"workdays.{action}_calendarday"))


def days(user: Any, action: str = "view") -> QuerySet[CalendarDay]:
    return CalendarDay.objects.restrict(user, action)


# --- the year page -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayCell:
    date: dt.date
    is_workday: bool
    kind: str
    name: str
    source: str  # "seed", "manual", or "" (no row: Monday–Friday fallback)
    is_today: bool

    @property
    def entered(self) -> bool:
        return bool(self.source)

    @property
    def css(self) -> str:
        classes = [f"k-{self.kind}"]
        if not self.entered:
            classes.append("fallback")
        if self.source == "manual":
            classes.append("manual")
        if self.is_today:
            classes.append("today")
        return " ".join(classes)

    def kind_label(self) -> str:
        return str(DayKind(self.kind).label)


@dataclass(frozen=True)
class Month:
    number: int
    name: str
    weeks: list[list[DayCell | None]]


def day_cell(day: dt.date, row: CalendarDay | None, today: dt.date | None = None) -> DayCell:
    today = today or timezone.localdate()
    if row is None:
        working = day.weekday() < 5
        kind = DayKind.WORKDAY if working else DayKind.WEEKEND
        return DayCell(day, working, kind, "", "", day == today)
    return DayCell(day, row.is_workday, row.kind, row.name, row.source, day == today)


def year_months(user: Any, year: int) -> list[Month]:
    """The twelve months of ``year`` as week rows (Monday first) of day cells; ``None`` pads the weeks."""
    rows = {row.date: row for row in days(user).filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))}
    today = timezone.localdate()
    months = []
    for month in range(1, 13):
        weeks = [
            [day_cell(d, rows.get(d), today) if d.month == month else None for d in week]
            for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
        ]
        months.append(Month(month, str(MONTHS[month]), weeks))
    return months


@dataclass(frozen=True)
class YearSummary:
    entered: int
    days: int
    holidays: int
    makeup_days: int
    workdays: int
    manual: int


def year_summary(user: Any, year: int) -> YearSummary:
    qs = days(user).filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))
    rows = list(qs.values_list("kind", "source", "is_workday"))
    total = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    entered_workdays = sum(1 for _k, _s, w in rows if w)
    # days without a row count with the Monday–Friday fallback
    present = set(qs.values_list("date", flat=True))
    fallback_workdays = sum(
        1 for i in range(total) if (d := dt.date(year, 1, 1) + dt.timedelta(days=i)) not in present and d.weekday() < 5
    )
    return YearSummary(
        entered=len(rows),
        days=total,
        holidays=sum(1 for k, _s, _w in rows if k == DayKind.HOLIDAY),
        makeup_days=sum(1 for k, _s, _w in rows if k == DayKind.MAKEUP_WORKDAY),
        workdays=entered_workdays + fallback_workdays,
        manual=sum(1 for _k, s, _w in rows if s == "manual"),
    )


def named_days(user: Any, year: int) -> QuerySet[CalendarDay]:
    """Holidays and make-up working days of ``year`` (the list under the grid and the Excel export)."""
    return (
        days(user)
        .filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))
        .filter(kind__in=[DayKind.HOLIDAY, DayKind.MAKEUP_WORKDAY])
        .order_by("date")
    )


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    name: str
    is_workday: bool

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def named_periods(user: Any, year: int) -> list[Period]:
    """``named_days`` with consecutive days of the same name and status joined (1–7 October 国庆节 off)."""
    periods: list[Period] = []
    for day in named_days(user, year):
        prev = periods[-1] if periods else None
        if (
            prev is not None
            and prev.name == day.name
            and prev.is_workday == day.is_workday
            and prev.last + dt.timedelta(days=1) == day.date
        ):
            periods[-1] = Period(prev.first, day.date, prev.name, prev.is_workday)
        else:
            periods.append(Period(day.date, day.date, day.name, day.is_workday))
    return periods


def listed_years(user: Any, around: int | None = None) -> list[int]:
    """Years to offer in the year switcher: from two years back to two years ahead (older ones: the arrows)."""
    this = timezone.localdate().year
    result = set(range(this - 2, this + 3))
    if around is not None:
        result.add(around)
    return sorted(result)


# --- warnings ----------------------------------------------------------------------------


def _sources() -> list[Callable[[], Mapping[int, int] | Iterable[int]]]:
    found = []
    for path in getattr(settings, "FENGQIAO_DEADLINE_YEAR_SOURCES", []):
        try:
            found.append(import_string(path))
        except ImportError:
            logger.warning("FENGQIAO_DEADLINE_YEAR_SOURCES: cannot import %s", path)
    return found


def deadline_years() -> dict[int, int]:
    """``{year: number of open deadlines in it}`` from every configured source (0 when a source gives no count)."""
    result: dict[int, int] = {}
    for source in _sources():
        try:
            found = source()
        except Exception:
            logger.exception("deadline year source %s failed", source)
            continue
        if isinstance(found, Mapping):
            for year, count in found.items():
                result[int(year)] = result.get(int(year), 0) + int(count)
        else:
            for year in found:
                result.setdefault(int(year), 0)
    return result


def incomplete_years(candidates: Iterable[int]) -> set[int]:
    wanted = set(candidates)
    complete = set(CalendarYear.objects.filter(year__in=wanted, complete=True).values_list("year", flat=True))
    return wanted - complete


def calendar_warnings() -> list[str]:
    """One message per year used by open deadlines (or the current year) whose calendar is not complete."""
    this = timezone.localdate().year
    used = deadline_years()
    missing = incomplete_years({this, *used})
    messages = []
    for year in sorted(missing):
        count = used.get(year, 0)
        if count:
            messages.append(
                ngettext(
                    "The working-day calendar of %(year)s is not complete: %(count)d open deadline falls in that "
                    "year and is counted with Monday to Friday as working days. Enter the year's holidays and "
                    "make-up working days and mark the year complete; deadlines are then recomputed.",
                    "The working-day calendar of %(year)s is not complete: %(count)d open deadlines fall in that "
                    "year and are counted with Monday to Friday as working days. Enter the year's holidays and "
                    "make-up working days and mark the year complete; deadlines are then recomputed.",
                    count,
                )
                % {"year": year, "count": count}
            )
        elif year in used or year == this:
            messages.append(
                _(
                    "The working-day calendar of %(year)s is not complete: deadlines in that year are counted with "
                    "Monday to Friday as working days. Enter the year's holidays and make-up working days and mark "
                    "the year complete."
                )
                % {"year": year}
            )
    return messages
