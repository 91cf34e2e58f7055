"""Writing the working-day calendar.

* ``seed_from_chinese_calendar(years=None)``: every day of every year the
  ``chinese_calendar`` package knows (or of ``years``), with the holiday
  names; idempotent; rows entered by an administrator (source "manual") are
  never overwritten; the years become complete. Run by ``manage.py
  seed_workdays`` and by ``ensure_calendar()`` (cheap when nothing is missing).
* ``set_day(day, is_workday=..., name=..., actor=...)``: an administrator's
  correction of one date (the kind is derived: a working Saturday is a make-up
  working day, a day off from Monday to Friday a holiday).
* ``set_year_complete(year, complete=..., actor=...)``: confirms that a year's
  days are all entered (missing days are written with the Monday–Friday rule).

Every change gives the year a new version (so every process's cached calendar
is refreshed), records an audit event and, once the transaction commits,
sends ``calendar_changed(years=..., dates=...)``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.audit.models import Category
from fengqiao.audit.services import changed, record, snapshot

from .deadlines import invalidate
from .models import CalendarDay, CalendarYear, DayKind, Source
from .signals import calendar_changed

CHANGE_PERMISSION = "workdays.change_calendarday"
MIN_YEAR = 2000
MAX_YEAR = 2100


def _check_actor(actor: Any) -> None:
    """``actor=None`` is the system (commands, the demo loader); a user needs the change permission."""
    if actor is not None and not actor.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied


def derive_kind(day: dt.date, is_workday: bool, name: str = "") -> str:
    weekend = day.weekday() >= 5
    if is_workday:
        return DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY
    if weekend and not name:
        return DayKind.WEEKEND
    return DayKind.HOLIDAY


def _default_day(day: dt.date, source: str) -> CalendarDay:
    working = day.weekday() < 5
    return CalendarDay(date=day, is_workday=working, kind=derive_kind(day, working), name="", source=source)


def _days_of(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    count = (dt.date(year + 1, 1, 1) - first).days
    return [first + dt.timedelta(days=i) for i in range(count)]


def _touch_years(years: Iterable[int], *, defaults: dict[str, Any] | None = None) -> None:
    """Give each year a new version (creating its row if needed)."""
    for year in sorted(set(years)):
        obj, created = CalendarYear.objects.select_for_update().get_or_create(
            year=year, defaults={"complete": False, "source": Source.MANUAL, **(defaults or {})}
        )
        if not created:
            obj.version = uuid.uuid4()
            obj.save(update_fields=["version", "updated_at"])


def _announce(years: Iterable[int], dates: list[dt.date] | None) -> None:
    years_list = sorted(set(years))
    if not years_list:
        return
    invalidate(years_list)

    def send() -> None:
        invalidate(years_list)
        calendar_changed.send(sender=CalendarDay, years=years_list, dates=dates)

    transaction.on_commit(send)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(
            {"year": _("The year must be between %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}}
        )


# --- seeding ------------------------------------------------------------------------


def known_years() -> list[int]:
    """The years the installed ``chinese_calendar`` package has official data for."""
    from chinese_calendar import constants

    first = min(constants.holidays).year
    last = max(max(constants.holidays).year, max(constants.workdays).year)
    return list(range(first, last + 1))


def _official_days(year: int) -> list[CalendarDay]:
    from chinese_calendar import constants

    chinese = {holiday.value: holiday.chinese for holiday in constants.Holiday}
    rows = []
    for day in _days_of(year):
        if day in constants.holidays:
            label = constants.holidays[day]
            name = chinese.get(label, str(label))
            rows.append(CalendarDay(date=day, is_workday=False, kind=DayKind.HOLIDAY, name=name, source=Source.SEED))
        elif day in constants.workdays:
            label = constants.workdays[day]
            name = chinese.get(label, str(label))
            rows.append(
                CalendarDay(date=day, is_workday=True, kind=DayKind.MAKEUP_WORKDAY, name=name, source=Source.SEED)
            )
        else:
            rows.append(_default_day(day, Source.SEED))
    return rows


@dataclass
class SeedResult:
    years: list[int] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    kept_manual: int = 0
    unknown_years: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


_FIELDS = ("is_workday", "kind", "name")
_DAY_FIELDS = ("date", "is_workday", "kind", "name", "source")
_YEAR_FIELDS = ("year", "complete", "source", "note")


@transaction.atomic
def seed_from_chinese_calendar(years: Iterable[int] | None = None, *, actor: Any = None) -> SeedResult:
    """Write the official days of ``years`` (default: every year the package knows). Idempotent.

    Rows entered by an administrator are kept; years the package does not know are listed in
    ``unknown_years`` and left alone. The seeded years are marked complete (a year an
    administrator has marked incomplete stays as the administrator left it).
    """
    _check_actor(actor)
    known = set(known_years())
    wanted = sorted(known if years is None else {int(y) for y in years})
    result = SeedResult(unknown_years=[y for y in wanted if y not in known])
    changed_years: set[int] = set()
    for year in (y for y in wanted if y in known):
        result.years.append(year)
        existing = {
            row.date: row
            for row in CalendarDay.objects.select_for_update().filter(
                date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31)
            )
        }
        to_create: list[CalendarDay] = []
        to_update: list[CalendarDay] = []
        for official in _official_days(year):
            row = existing.get(official.date)
            if row is None:
                to_create.append(official)
            elif row.source == Source.MANUAL:
                result.kept_manual += 1
            elif any(getattr(row, f) != getattr(official, f) for f in _FIELDS):
                for f in _FIELDS:
                    setattr(row, f, getattr(official, f))
                to_update.append(row)
        CalendarDay.objects.bulk_create(to_create, batch_size=500)
        CalendarDay.objects.bulk_update(to_update, [*_FIELDS, "updated_at"], batch_size=500)
        result.created += len(to_create)
        result.updated += len(to_update)
        year_row = CalendarYear.objects.select_for_update().filter(year=year).first()
        if year_row is None:
            CalendarYear.objects.create(year=year, complete=True, source=Source.SEED)
            changed_years.add(year)
        elif to_create or to_update or (not year_row.complete and year_row.source == Source.SEED):
            year_row.version = uuid.uuid4()
            if year_row.source == Source.SEED:
                year_row.complete = True
            year_row.save()
            changed_years.add(year)
    if changed_years:
        record(
            "workdays.seed",
            actor=actor,
            category=Category.SYSTEM if actor is None else Category.OPERATION,
            detail={
                "years": sorted(changed_years),
                "created": result.created,
                "updated": result.updated,
                "kept_manual": result.kept_manual,
            },
        )
        _announce(changed_years, None)
    return result


def ensure_calendar() -> SeedResult | None:
    """Seed the calendar when a year the package knows is missing from the table (for the demo and deployments).

    Safe to call at every start: one query when everything is there.
    """
    known = known_years()
    present = set(CalendarYear.objects.filter(year__in=known).values_list("year", flat=True))
    missing = [y for y in known if y not in present]
    if not missing:
        return None
    return seed_from_chinese_calendar(missing)


# --- an administrator's changes -----------------------------------------------------------


@transaction.atomic
def set_day(day: dt.date, *, is_workday: bool, name: str = "", actor: Any) -> CalendarDay:
    """Set whether ``day`` is a working day (and the holiday's name); the row becomes "manual"."""
    _check_actor(actor)
    _check_year(day.year)
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationError({"name": _("The name is too long: at most 100 characters.")})
    row = CalendarDay.objects.select_for_update().filter(date=day).first()
    before = snapshot(row, fields=_DAY_FIELDS)
    kind = derive_kind(day, is_workday, name)
    if row is None:
        row = CalendarDay(date=day)
    row.is_workday, row.kind, row.name, row.source = is_workday, kind, name, Source.MANUAL
    row.save()
    _touch_years([day.year])
    old, new = changed(before, snapshot(row, fields=_DAY_FIELDS))
    record("workdays.day.change", actor=actor, obj=row, before=old, after=new)
    _announce([day.year], [day])
    return row


@transaction.atomic
def set_year_complete(year: int, *, complete: bool = True, note: str = "", actor: Any) -> CalendarYear:
    """Mark ``year`` complete (all its days entered) or not complete again.

    Marking it complete writes the days that have no row yet with the Monday–Friday rule
    (as the administrator's decision: source "manual").
    """
    _check_actor(actor)
    _check_year(year)
    note = (note or "").strip()
    if len(note) > 200:
        raise ValidationError({"note": _("The note is too long: at most 200 characters.")})
    row = CalendarYear.objects.select_for_update().filter(year=year).first()
    before = snapshot(row, fields=_YEAR_FIELDS)
    filled = 0
    if complete:
        present = set(
            CalendarDay.objects.filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31)).values_list(
                "date", flat=True
            )
        )
        missing = [_default_day(d, Source.MANUAL) for d in _days_of(year) if d not in present]
        CalendarDay.objects.bulk_create(missing, batch_size=500)
        filled = len(missing)
    if row is None:
        row = CalendarYear(year=year, source=Source.MANUAL)
    row.complete = complete
    row.note = note
    row.source = Source.MANUAL
    row.version = uuid.uuid4()
    row.save()
    old, new = changed(before, snapshot(row, fields=_YEAR_FIELDS))
    record(
        "workdays.year.complete" if complete else "workdays.year.reopen",
        actor=actor,
        obj=row,
        before=old,
        after=new,
        detail={"days_filled": filled},
    )
    _announce([year], None)
    return row
