"""The deadline sweeper: reminders at fractions of working time, overdue escalation, idempotency,
recomputation after a calendar change."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import sweeper
from fengqiao.cases.models import Case, CaseEvent, CaseKind, CaseState, Complexity, DutyAlert
from fengqiao.core.tasks_schedule import load_schedule
from fengqiao.notifications.models import Notification
from fengqiao.system.models import Parameter
from fengqiao.system.services import ensure_default_parameters, update_parameter
from fengqiao.units.models import Unit, UnitKind
from fengqiao.workdays import deadlines as wd
from fengqiao.workdays.selectors import calendar_warnings
from fengqiao.workdays.services import seed_from_chinese_calendar, set_day, set_year_complete

from .small_world import at, build, make_case, staff

HANDLER = ["cases.view_case", "cases.handle_case"]
TRIAGE = ["cases.view_case", "cases.triage_case"]
SUPERVISOR = ["cases.view_case", "cases.supervise_case"]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    wd.invalidate()
    yield
    cache.clear()
    wd.invalidate()


@pytest.fixture
def world(db):
    seed_from_chinese_calendar([2026])
    w = build()
    community = w.units["440305001001"]
    street = w.units["440305001"]
    w.people = {  # type: ignore[attr-defined]
        "grid": staff("grid_worker", HANDLER, community),
        "community": staff("community_handler", HANDLER, community),
        "community_clerk": staff("community_clerk", ["cases.view_case"], community),
        "street": staff("street_triage", TRIAGE, street),
        "street_leader": staff("street_leader", SUPERVISOR, street),
        "district_leader": staff("district_leader", SUPERVISOR, w.units["440305"]),
    }
    return w


def _case(world, *, received: datetime.datetime, days: int = 3, **fields) -> Case:
    """A case handled by the community centre, resolution due ``days`` working days after receipt."""
    fields.setdefault("unit", world.units["440305001001"])
    fields.setdefault("triage_unit", world.units["440305001"])
    fields.setdefault("state", CaseState.IN_PROGRESS)
    fields.setdefault("first_responded_at", received)
    case = make_case(
        world.categories["hazard"],
        world.regions["440305001001001"],
        received_at=received,
        resolution_due=wd.add_working_days(received, days),
        first_response_due=wd.add_working_days(received, 1),
        **fields,
    )
    Case.objects.filter(pk=case.pk).update(updated_at=received)  # as if last touched on receipt
    return Case.objects.get(pk=case.pk)


def _sweep(now: datetime.datetime, since: datetime.datetime | None = None, capture=None) -> sweeper.SweepResult:
    since = since or now - datetime.timedelta(minutes=1)
    if capture is None:
        return sweeper.sweep(now, since=since)
    with capture(execute=True):
        return sweeper.sweep(now, since=since)


def _keys(user=None) -> list[str]:
    qs = Notification.objects.all() if user is None else Notification.objects.filter(recipient=user)
    return sorted(k or "" for k in qs.values_list("dedupe_key", flat=True))


def _stamp(value: datetime.datetime | None) -> str:
    assert value is not None
    return sweeper.stamp(value)


def _due(case: Case) -> datetime.datetime:
    assert case.resolution_due is not None
    return case.resolution_due


# Monday 2 March 2026, 10:00; 3 working days → end of Thursday 5 March.
# Working time from start: Mon 14 h, Tue 24 h, Wed 24 h, Thu 24 h = 86 h. 50 % = 43 h → Tue 24:00 + 5 h = Wed 05:00.
RECEIVED = at(2026, 3, 2, 10)


def test_reminder_at_half_time_goes_to_the_assignee_once(world, django_capture_on_commit_callbacks) -> None:
    grid = world.people["grid"]
    case = _case(world, received=RECEIVED, assignee=grid)
    assert _sweep(at(2026, 3, 4, 4, 59), capture=django_capture_on_commit_callbacks).reminders == 0
    half = at(2026, 3, 4, 5) + datetime.timedelta(seconds=30)  # the sweep's window (last minute) contains 05:00
    result = _sweep(half, capture=django_capture_on_commit_callbacks)
    assert result.reminders == 1 and result.notifications == 1
    due = _stamp(case.resolution_due)
    assert _keys() == [f"case:{case.pk}:remind:0.5:{due}"]
    n = Notification.objects.get()
    assert n.recipient == grid and n.kind == "case.remind" and n.url == f"/cases/{case.number}/"
    assert "50%" in n.subject and n.delivered  # the logging channel delivered it after the commit
    assert CaseEvent.objects.filter(case=case, action="remind", public=False).count() == 1
    # the same sweep again, and a sweep that looks back over the whole day: nothing new
    again = _sweep(half, capture=django_capture_on_commit_callbacks)
    assert (again.reminders, again.notifications) == (0, 0)
    wide = _sweep(at(2026, 3, 4, 6), since=at(2026, 3, 3), capture=django_capture_on_commit_callbacks)
    assert wide.notifications == 0
    assert Notification.objects.count() == 1 and CaseEvent.objects.filter(action="remind").count() == 1
    # a later sweep (its window starting after 05:00) does not repeat it
    assert _sweep(at(2026, 3, 4, 9), capture=django_capture_on_commit_callbacks).notifications == 0
    # 80 % (68.8 h: Wed 24:00 = 62 h, + 6.8 h → Thu 06:48): a second reminder and a "deadline approaching" alert
    result = _sweep(at(2026, 3, 5, 7), since=at(2026, 3, 5, 6), capture=django_capture_on_commit_callbacks)
    assert result.notifications == 1 and result.alerts == 1
    assert _keys() == sorted([f"case:{case.pk}:remind:0.5:{due}", f"case:{case.pk}:remind:0.8:{due}"])
    alert = DutyAlert.objects.get()
    assert alert.kind == DutyAlert.Kind.DUE_SOON and alert.unit == world.units["440305001001"]


def test_without_an_assignee_the_handling_unit_hears(world) -> None:
    case = _case(world, received=RECEIVED)
    _sweep(at(2026, 3, 4, 12), since=at(2026, 3, 1))
    recipients = set(Notification.objects.values_list("recipient__username", flat=True))
    # members of the handling unit holding cases.handle_case (not the clerk without it)
    assert recipients == {"grid_worker", "community_handler"}
    # a case still at triage: the triage centre's people with cases.triage_case
    at_triage = _case(world, received=RECEIVED, unit=None, state=CaseState.SUBMITTED)
    _sweep(at(2026, 3, 4, 12), since=at(2026, 3, 1))
    heard = Notification.objects.filter(dedupe_key__startswith=f"case:{at_triage.pk}:")
    assert set(heard.values_list("recipient__username", flat=True)) == {"street_triage"}
    assert Notification.objects.filter(dedupe_key__startswith=f"case:{case.pk}:").count() == 2


def test_a_superseded_fraction_is_not_sent_late(world) -> None:
    """A case first seen at 85 % gets the 80 % reminder only, never the 50 % one afterwards."""
    case = _case(world, received=RECEIVED, assignee=world.people["grid"])
    _sweep(at(2026, 3, 5, 12), since=at(2026, 3, 1))
    assert _keys() == [f"case:{case.pk}:remind:0.8:{_stamp(case.resolution_due)}"]
    Case.objects.filter(pk=case.pk).update(updated_at=at(2026, 3, 5, 13))  # changed: re-examined
    _sweep(at(2026, 3, 5, 14))
    assert len(_keys()) == 1


def test_reminder_fractions_come_from_the_parameter(world) -> None:
    ensure_default_parameters()
    param = Parameter.objects.get(key="case.reminder_fractions")
    update_parameter(param, actor=None, name=param.name, description="", value="[0.25]")
    assert sweeper.reminder_fractions() == [0.25]
    case = _case(world, received=RECEIVED, assignee=world.people["grid"])
    _sweep(at(2026, 3, 3, 12), since=at(2026, 3, 1))
    assert _keys() == [f"case:{case.pk}:remind:0.25:{_stamp(case.resolution_due)}"]
    Parameter.objects.filter(pk=param.pk).update(value=["x", 2, True])  # bypassing the validation
    cache.clear()
    assert sweeper.reminder_fractions() == [0.5, 0.8]


def test_suspended_cases_are_skipped_and_resume_where_they_stopped(world) -> None:
    grid = world.people["grid"]
    case = _case(world, received=RECEIVED, assignee=grid, suspended_at=at(2026, 3, 3, 9))
    assert _sweep(at(2026, 3, 5, 12), since=at(2026, 3, 1)).checked == 0
    # resumed after 3 working days suspended: the deadline moved by 3 working days (Thu → Tue 10 March);
    # the clock stood still, so on Monday 9 March only Mon(14 h) + Tue 0–9 h + Mon 9 … of working time is used
    Case.objects.filter(pk=case.pk).update(
        suspended_at=None, suspended_days=3, resolution_due=wd.add_working_days(_due(case), 3)
    )
    case.refresh_from_db()
    assert wd.local_date(_due(case)) == datetime.date(2026, 3, 10)
    result = _sweep(at(2026, 3, 9, 1), since=at(2026, 3, 1))
    # used: Mon 14 h + Tue 24 h + Wed … Mon 01:00 = 3 days + 1 h, minus 3 suspended days = 39 h of 86 h < 50 %
    assert result.reminders == 0
    assert _sweep(at(2026, 3, 9, 6), since=at(2026, 3, 9, 1)).reminders == 1  # 44 h: past 50 %


def test_a_recomputed_deadline_re_arms_the_reminders(world) -> None:
    case = _case(world, received=RECEIVED, assignee=world.people["grid"])
    _sweep(at(2026, 3, 4, 12), since=at(2026, 3, 1))
    old_key = _keys()[0]
    later = wd.add_working_days(RECEIVED, 5)  # extension: due Monday 9 March
    Case.objects.filter(pk=case.pk).update(resolution_due=later, updated_at=at(2026, 3, 6, 12))
    result = _sweep(at(2026, 3, 6, 12))  # Fri noon: 14+24*3+12 = 98 h of 134 h = 73 %: the 50 % reminder again
    assert result.notifications == 1
    assert _keys() == sorted([old_key, f"case:{case.pk}:remind:0.5:{_stamp(later)}"])


def test_first_response_reminder_and_overdue(world) -> None:
    case = _case(world, received=RECEIVED, first_responded_at=None, state=CaseState.SUBMITTED, unit=None)
    due = _stamp(case.first_response_due)  # end of Tuesday 3 March: 14 h + 24 h
    _sweep(at(2026, 3, 3, 6), since=at(2026, 3, 1))  # 20 h of 38 h: 52 %
    assert _keys() == [f"case:{case.pk}:remind_response:0.5:{due}"]
    result = _sweep(at(2026, 3, 4, 9), since=at(2026, 3, 3, 6))
    assert f"case:{case.pk}:response_overdue:{due}" in _keys()
    assert result.alerts == 1 and DutyAlert.objects.get().kind == DutyAlert.Kind.OVERDUE
    # responded: the first-response clock stops
    Case.objects.filter(pk=case.pk).update(first_responded_at=at(2026, 3, 4, 10), updated_at=at(2026, 3, 4, 10))
    responses = Notification.objects.filter(dedupe_key__contains="response").count()
    _sweep(at(2026, 3, 4, 12), since=at(2026, 3, 1))
    assert Notification.objects.filter(dedupe_key__contains="response").count() == responses


def test_overdue_cases_are_escalated_once_to_the_supervising_centre(world, django_capture_on_commit_callbacks) -> None:
    grid = world.people["grid"]
    overdue = _case(world, received=RECEIVED, assignee=grid)
    at_district = _case(world, received=RECEIVED, unit=world.units["440305"])
    department = Unit.objects.create(
        code="D-1", name="住建局", kind=UnitKind.DEPARTMENT, region=world.regions["440305"], region_path="440305"
    )
    at_department = _case(world, received=RECEIVED, unit=department)
    not_yet = _case(world, received=at(2026, 3, 5, 10), assignee=grid)
    done = _case(world, received=RECEIVED, assignee=grid, resolved_at=at(2026, 3, 4), state=CaseState.REVIEW)
    paused = _case(world, received=RECEIVED, assignee=grid, suspended_at=at(2026, 3, 4))
    closed = _case(world, received=RECEIVED, assignee=grid, state=CaseState.CLOSED)
    now = at(2026, 3, 6, 9)
    result = _sweep(now, capture=django_capture_on_commit_callbacks)
    assert result.alerts == 3 and result.notifications == Notification.objects.count()
    assert result.escalated == 3 and set(result.escalated_numbers) == {
        overdue.number,
        at_district.number,
        at_department.number,
    }
    for case in (not_yet, done, paused, closed):
        case.refresh_from_db()
        assert case.overdue_escalated_at is None and not case.supervised
    overdue.refresh_from_db()
    assert overdue.overdue_escalated_at == now and overdue.supervised
    event = CaseEvent.objects.get(case=overdue, action="overdue_escalate")
    assert event.data["supervising_unit"] == world.units["440305001"].pk and not event.public
    # the street centre above the community centre supervises; its leader and the handler hear
    key = f"case:{overdue.pk}:overdue:{_stamp(overdue.resolution_due)}"
    assert set(Notification.objects.filter(dedupe_key=key).values_list("recipient__username", flat=True)) == {
        "street_leader",
        "grid_worker",
    }
    alert = DutyAlert.objects.get(case=overdue, kind=DutyAlert.Kind.OVERDUE)
    assert alert.unit == world.units["440305001"]
    # the district centre supervises itself (top level) and a district department
    assert CaseEvent.objects.get(case=at_district, action="overdue_escalate").data["supervising_unit"] == (
        world.units["440305"].pk
    )
    assert CaseEvent.objects.get(case=at_department, action="overdue_escalate").data["supervising_unit"] == (
        world.units["440305"].pk
    )
    assert AuditEvent.objects.filter(action="cases.sweep").count() == 1
    # again: nothing more
    counts = (Notification.objects.count(), CaseEvent.objects.count(), DutyAlert.objects.count())
    again = _sweep(
        now + datetime.timedelta(minutes=1), since=at(2026, 3, 1), capture=django_capture_on_commit_callbacks
    )
    assert again.escalated == 0 and again.notifications == 0 and again.alerts == 0
    assert counts == (Notification.objects.count(), CaseEvent.objects.count(), DutyAlert.objects.count())
    assert AuditEvent.objects.filter(action="cases.sweep").count() == 1  # an idle sweep writes no audit row


def test_default_window_uses_the_watermark(world) -> None:
    _case(world, received=RECEIVED, assignee=world.people["grid"])
    first = sweeper.sweep(at(2026, 3, 4, 12))  # no watermark: looks back 24 hours
    assert first.reminders == 1
    assert cache.get(sweeper.WATERMARK_KEY) == at(2026, 3, 4, 12).isoformat()
    assert sweeper._watermark(at(2026, 3, 4, 12, 1)) == at(2026, 3, 4, 12) - sweeper.MARGIN
    assert sweeper.sweep(at(2026, 3, 4, 12, 1)).reminders == 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_double_notify() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent transactions (PostgreSQL); SQLite serialises writers anyway")
    seed_from_chinese_calendar([2026])
    w = build()
    staff("leader", SUPERVISOR, w.units["440305001"])
    grid = staff("grid_worker", HANDLER, w.units["440305001001"])

    class World:
        units = w.units
        categories = w.categories
        regions = w.regions

    for i in range(12):
        _case(World, received=RECEIVED, assignee=grid)  # overdue: escalation
        _case(World, received=at(2026, 3, 4, 10), assignee=grid, description=f"半程 {i}")  # 50 % reminder
    now = at(2026, 3, 6, 9)
    results: list[sweeper.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            results.append(sweeper.sweep(now, since=at(2026, 3, 6, 0)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.escalated for r in results) == 12
    assert CaseEvent.objects.filter(action="overdue_escalate").count() == 12
    keys = list(Notification.objects.values_list("recipient_id", "dedupe_key"))
    assert len(keys) == len(set(keys))
    assert Notification.objects.filter(dedupe_key__contains=":overdue:").count() == 24  # leader + handler each
    assert Notification.objects.filter(dedupe_key__contains=":remind:0.5:").count() == 12


def test_calendar_change_recomputes_open_deadlines(world, django_capture_on_commit_callbacks) -> None:
    """A case received late in 2026 has a deadline in 2027 (not in chinese_calendar): weekdays first,
    then recomputed when an administrator enters New Year's Day 2027; the calendar warns meanwhile."""
    from fengqiao.cases import deadlines as case_deadlines

    admin = staff("cal_admin", ["workdays.view_calendarday", "workdays.change_calendarday"], None)
    case = make_case(
        world.categories["hazard"],
        world.regions["440305001001001"],
        received_at=at(2026, 12, 30, 10),
        unit=world.units["440305001001"],
        state=CaseState.IN_PROGRESS,
        complexity=Complexity.SIMPLE,
    )
    case_deadlines.recompute(case)
    case.save()
    assert wd.local_date(_due(case)) == datetime.date(2027, 1, 4)  # Thu 31, Fri 1 (weekday), Mon 4
    with override_settings(FENGQIAO_DEADLINE_YEAR_SOURCES=["fengqiao.cases.sweeper.open_deadline_years"]):
        assert sweeper.open_deadline_years()[2027] == 1
        assert any("2027" in w and "1 open deadline" in w for w in calendar_warnings())
        with django_capture_on_commit_callbacks(execute=True):
            set_day(datetime.date(2027, 1, 1), is_workday=False, name="元旦", actor=admin)
        case.refresh_from_db()
        assert wd.local_date(_due(case)) == datetime.date(2027, 1, 5)
        assert AuditEvent.objects.filter(action="cases.deadlines.recompute").exists()
        with django_capture_on_commit_callbacks(execute=True):
            set_year_complete(2027, actor=admin)
        assert not any("2027" in w for w in calendar_warnings())


def test_recompute_touches_only_cases_that_depend_on_the_changed_days(world) -> None:
    early = _case(world, received=RECEIVED, complexity=Complexity.SIMPLE)
    petition = make_case(
        world.categories["petition"],
        world.regions["440305001001001"],
        received_at=at(2026, 9, 20, 10),
        kind=CaseKind.PETITION,
        state=CaseState.IN_PROGRESS,
        unit=world.units["440305001001"],
    )
    from fengqiao.cases import deadlines as case_deadlines

    case_deadlines.recompute(petition)
    petition.save()
    before_early = early.resolution_due
    assert sweeper.recompute_open_deadlines([2026], [datetime.date(2026, 10, 8)]) == 0  # nothing moved
    Case.objects.filter(pk=early.pk).update(resolution_due=at(2020, 1, 1))  # would be "fixed" if touched
    sweeper.recompute_open_deadlines([2026], [datetime.date(2026, 10, 8)])
    early.refresh_from_db()
    assert early.resolution_due == at(2020, 1, 1) != before_early  # not in the affected range: untouched


def test_the_task_is_scheduled() -> None:
    paths = [entry.path for entry in load_schedule()]
    assert "fengqiao.cases.sweeper.sweep_deadlines" in paths


def test_a_backlog_going_overdue_at_once_gets_digests(world, client, django_capture_on_commit_callbacks) -> None:
    """More than DIGEST_AFTER cases for one person (or one supervising centre) in one batch: one digest
    notification per person and one digest duty alert per centre; every case still gets its own event."""
    grid, street = world.people["grid"], world.units["440305001"]
    many = [_case(world, received=RECEIVED, assignee=grid) for _ in range(sweeper.DIGEST_AFTER + 5)]
    department = Unit.objects.create(
        code="D-2", name="城管局", kind=UnitKind.DEPARTMENT, region=world.regions["440305"], region_path="440305"
    )
    few = _case(world, received=RECEIVED, unit=department)  # supervised by the district centre: one case
    now = at(2026, 3, 6, 9)
    result = _sweep(now, capture=django_capture_on_commit_callbacks)
    assert result.escalated == len(many) + 1
    # the history stays complete: one event per case, with its own deadline
    events = CaseEvent.objects.filter(action="overdue_escalate")
    assert events.count() == len(many) + 1
    for case in many:
        event = events.get(case=case)
        assert event.data == {"due": _stamp(case.resolution_due), "supervising_unit": street.pk}
    # the handler and the street leader: one digest each, with the count and a link to the list
    digests = Notification.objects.filter(kind="case.overdue_digest")
    handler = digests.get(recipient=grid)
    assert str(len(many)) in handler.subject and many[0].number in handler.body
    assert handler.url == "/cases/?overdue=on&sort=due"
    leader = digests.get(recipient=world.people["street_leader"])
    assert str(len(many)) in leader.subject and leader.url == "/cases/?overdue=on&sort=due&region=440305001"
    assert not Notification.objects.filter(recipient=grid).exclude(kind="case.overdue_digest").exists()
    # one alert for the street centre's backlog, the single case keeps its own alert
    digest = DutyAlert.objects.get(case__isnull=True)
    assert (digest.kind, digest.case_count, digest.unit, digest.region_path) == (
        DutyAlert.Kind.OVERDUE,
        len(many),
        street,
        "440305001",
    )
    assert DutyAlert.objects.get(case=few).case_count == 1
    assert result.alerts == 2 and DutyAlert.objects.count() == 2
    assert set(Notification.objects.filter(kind="case.overdue_escalated").values_list("dedupe_key", flat=True)) == {
        f"case:{few.pk}:overdue:{_stamp(few.resolution_due)}"
    }
    # idempotent: a second sweep (or a second worker) adds nothing
    counts = (Notification.objects.count(), CaseEvent.objects.count(), DutyAlert.objects.count())
    again = _sweep(now + datetime.timedelta(minutes=1), since=at(2026, 3, 1))
    assert (again.escalated, again.notifications, again.alerts) == (0, 0, 0)
    assert counts == (Notification.objects.count(), CaseEvent.objects.count(), DutyAlert.objects.count())
    # the duty console shows the digest with its count and the link to the overdue cases
    duty = staff("street_duty", ["cases.view_dutyalert", "cases.acknowledge_case", "cases.view_case"], street)
    client.force_login(duty)
    body = client.get("/cases/duty/feed/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = body[body.index(f'data-alert="{digest.pk}"') :].split("</tr>")[0]
    assert f'<a href="/cases/?overdue=on&amp;sort=due&amp;region=440305001">{len(many)} ' in row
    assert street.name in row
    assert client.post(f"/cases/duty/alerts/{digest.pk}/acknowledge/").status_code == 302
    digest.refresh_from_db()
    assert digest.acknowledged_by == duty
    assert f'data-alert="{digest.pk}"' not in client.get("/cases/duty/feed/").content.decode()


def test_the_escalation_keeps_the_deadline_as_python_writes_it(world) -> None:
    """Both paths (one SQL statement on PostgreSQL) write the deadline stamp and text as ``stamp``/``_local``."""
    grid = world.people["grid"]
    whole = _case(world, received=RECEIVED, assignee=grid)
    Case.objects.filter(pk=whole.pk).update(resolution_due=at(2026, 3, 5, 17, 30))
    fraction = _case(world, received=RECEIVED, assignee=grid)
    due = at(2026, 3, 5, 23, 59) + datetime.timedelta(seconds=59, microseconds=999999)
    Case.objects.filter(pk=fraction.pk).update(resolution_due=due)
    _sweep(at(2026, 3, 6, 9))
    for case in (whole, fraction):
        case.refresh_from_db()
        assert case.resolution_due is not None
        event = CaseEvent.objects.get(case=case, action="overdue_escalate")
        assert event.data["due"] == sweeper.stamp(case.resolution_due)
        assert sweeper._local(case.resolution_due) in event.note
        assert DutyAlert.objects.get(case=case).dedupe_key == f"overdue:{case.pk}:{sweeper.stamp(case.resolution_due)}"
    assert CaseEvent.objects.get(case=whole, action="overdue_escalate").data["due"] == "2026-03-05T17:30:00+08:00"


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_a_backlog_in_batches(monkeypatch) -> None:
    """Small batches and digests: two workers at once escalate every case once, and the digests and
    per-case alerts between them cover every case exactly once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent transactions (PostgreSQL)")
    monkeypatch.setattr(sweeper, "ESCALATION_BATCH", 7)
    monkeypatch.setattr(sweeper, "DIGEST_AFTER", 3)
    seed_from_chinese_calendar([2026])
    w = build()
    staff("leader", SUPERVISOR, w.units["440305001"])
    grid = staff("grid_worker", HANDLER, w.units["440305001001"])

    class World:
        units = w.units
        categories = w.categories
        regions = w.regions

    cases = [_case(World, received=RECEIVED, assignee=grid, description=f"积压 {i}") for i in range(40)]
    now = at(2026, 3, 6, 9)
    results: list[sweeper.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            results.append(sweeper.sweep(now, since=at(2026, 3, 6, 0)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.escalated for r in results) == len(cases)
    assert sorted(n for r in results for n in r.escalated_numbers) == sorted(c.number for c in cases)
    assert CaseEvent.objects.filter(action="overdue_escalate").count() == len(cases)
    alerts = DutyAlert.objects.filter(kind=DutyAlert.Kind.OVERDUE)
    covered = sum(a.case_count for a in alerts)
    per_case = list(alerts.filter(case__isnull=False).values_list("case_id", flat=True))
    assert covered == len(cases) and len(per_case) == len(set(per_case))
    keys = list(Notification.objects.values_list("recipient_id", "dedupe_key"))
    assert len(keys) == len(set(keys))
