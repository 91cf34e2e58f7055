from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.audit.tests.factories import make_user
from fengqiao.workdays import deadlines, selectors, services
from fengqiao.workdays.models import CalendarDay, CalendarYear, DayKind, Source
from fengqiao.workdays.signals import calendar_changed

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def admin():
    return make_user(["workdays.view_calendarday", "workdays.change_calendarday"], username="caladmin")


@pytest.fixture
def received(django_capture_on_commit_callbacks):
    """Collect calendar_changed signals (sent when the transaction commits)."""
    calls: list[dict] = []

    def listener(sender, **kwargs):
        calls.append(kwargs)

    calendar_changed.connect(listener, dispatch_uid="test-listener")
    yield calls
    calendar_changed.disconnect(dispatch_uid="test-listener")


def test_seed_writes_every_day_with_names_and_is_idempotent(django_capture_on_commit_callbacks, received) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        result = services.seed_from_chinese_calendar([2026])
    assert result.years == [2026] and result.created == 365 and result.updated == 0
    assert CalendarDay.objects.count() == 365
    national = CalendarDay.objects.get(date=D(2026, 10, 1))
    assert (national.is_workday, national.kind, national.name, national.source) == (
        False,
        DayKind.HOLIDAY,
        "国庆节",
        Source.SEED,
    )
    makeup = CalendarDay.objects.get(date=D(2026, 10, 10))
    assert (makeup.is_workday, makeup.kind, makeup.name) == (True, DayKind.MAKEUP_WORKDAY, "国庆节")
    assert CalendarDay.objects.get(date=D(2026, 2, 17)).name == "春节"
    assert CalendarDay.objects.get(date=D(2026, 3, 7)).kind == DayKind.WEEKEND
    assert CalendarDay.objects.get(date=D(2026, 3, 9)).kind == DayKind.WORKDAY
    year = CalendarYear.objects.get(year=2026)
    assert year.complete and year.source == Source.SEED
    assert received == [{"years": [2026], "dates": None, "signal": calendar_changed}]
    assert AuditEvent.objects.filter(action="workdays.seed").count() == 1

    version = year.version
    with django_capture_on_commit_callbacks(execute=True):
        again = services.seed_from_chinese_calendar([2026])
    assert (again.created, again.updated) == (0, 0)
    assert CalendarYear.objects.get(year=2026).version == version  # nothing changed: caches stay valid
    assert len(received) == 1 and AuditEvent.objects.filter(action="workdays.seed").count() == 1


def test_seed_never_overwrites_manual_days(admin) -> None:
    services.seed_from_chinese_calendar([2026])
    services.set_day(D(2026, 10, 8), is_workday=False, name="区里补休", actor=admin)
    CalendarDay.objects.filter(date=D(2026, 10, 9)).update(is_workday=False, kind="holiday")  # a stale seed row
    result = services.seed_from_chinese_calendar([2026])
    assert result.kept_manual == 1 and result.updated == 1
    manual = CalendarDay.objects.get(date=D(2026, 10, 8))
    assert (manual.is_workday, manual.name, manual.source) == (False, "区里补休", Source.MANUAL)
    assert CalendarDay.objects.get(date=D(2026, 10, 9)).is_workday


def test_unknown_years_are_reported_not_invented() -> None:
    result = services.seed_from_chinese_calendar([2026, 2027])
    assert result.years == [2026] and result.unknown_years == [2027]
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert 2027 not in services.known_years() and 2026 in services.known_years()


def test_ensure_calendar_seeds_once() -> None:
    first = services.ensure_calendar()
    assert first is not None and 2004 in first.years and 2026 in first.years
    assert services.ensure_calendar() is None


def test_command(capsys) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_workdays", "2025", "2027", stdout=out, stderr=err)
    assert "365 days created" in out.getvalue()
    assert "2027" in err.getvalue()
    assert CalendarYear.objects.get(year=2025).complete


def test_set_day_derives_the_kind_and_is_audited(admin, django_capture_on_commit_callbacks, received) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        saturday = services.set_day(D(2027, 1, 9), is_workday=True, name="春节", actor=admin)
    assert saturday.kind == DayKind.MAKEUP_WORKDAY and saturday.source == Source.MANUAL
    assert received[-1]["years"] == [2027] and received[-1]["dates"] == [D(2027, 1, 9)]
    assert services.set_day(D(2027, 1, 1), is_workday=False, name="元旦", actor=admin).kind == DayKind.HOLIDAY
    assert services.set_day(D(2027, 1, 10), is_workday=False, actor=admin).kind == DayKind.WEEKEND
    assert services.set_day(D(2027, 1, 11), is_workday=True, actor=admin).kind == DayKind.WORKDAY
    year = CalendarYear.objects.get(year=2027)
    assert not year.complete and year.source == Source.MANUAL
    event = AuditEvent.objects.filter(action="workdays.day.change", object_id=str(saturday.pk)).get()
    assert event.actor == admin and (event.after or {})["kind"] == DayKind.MAKEUP_WORKDAY
    # editing changes the version: every process's cache notices
    version = year.version
    services.set_day(D(2027, 1, 11), is_workday=False, name="调整", actor=admin)
    assert CalendarYear.objects.get(year=2027).version != version


def test_bad_input_is_refused_and_nothing_is_written(admin) -> None:
    with pytest.raises(ValidationError) as exc:
        services.set_day(D(2026, 10, 8), is_workday=False, name="x" * 101, actor=admin)
    assert "at most 100 characters" in str(exc.value)
    with pytest.raises(ValidationError):
        services.set_day(D(1999, 1, 1), is_workday=False, actor=admin)
    with pytest.raises(ValidationError):
        services.set_year_complete(2200, actor=admin)
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
    viewer = make_user(["workdays.view_calendarday"])
    with pytest.raises(PermissionDenied):
        services.set_day(D(2026, 10, 8), is_workday=False, actor=viewer)
    with pytest.raises(PermissionDenied):
        services.set_year_complete(2027, actor=viewer)
    with pytest.raises(PermissionDenied):
        services.seed_from_chinese_calendar([2026], actor=viewer)
    assert not CalendarDay.objects.exists()


def test_marking_a_year_complete_fills_the_missing_days(admin) -> None:
    services.set_day(D(2027, 1, 1), is_workday=False, name="元旦", actor=admin)
    assert deadlines.missing_years([D(2027, 6, 1)]) == {2027}
    year = services.set_year_complete(2027, note="国办发明电〔2026〕", actor=admin)
    assert year.complete and CalendarDay.objects.filter(date__year=2027).count() == 365
    assert CalendarDay.objects.get(date=D(2027, 1, 1)).name == "元旦"  # the entered day is kept
    assert CalendarDay.objects.get(date=D(2027, 1, 2)).kind == DayKind.WEEKEND
    assert deadlines.missing_years([D(2027, 6, 1)]) == set()
    assert AuditEvent.objects.filter(action="workdays.year.complete").exists()
    services.set_year_complete(2027, complete=False, actor=admin)
    assert deadlines.missing_years([D(2027, 6, 1)]) == {2027}
    assert AuditEvent.objects.filter(action="workdays.year.reopen").exists()


@override_settings(FENGQIAO_DEADLINE_YEAR_SOURCES=["fengqiao.workdays.tests.test_services.fake_source"])
def test_calendar_warnings_name_incomplete_years_used_by_deadlines(admin) -> None:
    this = timezone.localdate().year
    services.seed_from_chinese_calendar([2025, 2026])
    services.set_year_complete(this, actor=admin)
    warnings = selectors.calendar_warnings()
    assert len(warnings) == 1 and "2027" in warnings[0] and "3 open deadlines" in warnings[0]
    services.set_year_complete(2027, actor=admin)
    assert selectors.calendar_warnings() == []


@override_settings(FENGQIAO_DEADLINE_YEAR_SOURCES=["fengqiao.nowhere.source"])
def test_calendar_warnings_survive_a_bad_source(admin) -> None:
    services.set_year_complete(timezone.localdate().year, complete=False, actor=admin)
    warnings = selectors.calendar_warnings()
    assert len(warnings) == 1 and str(timezone.localdate().year) in warnings[0]


def fake_source() -> dict[int, int]:
    return {2026: 10, 2027: 3}
