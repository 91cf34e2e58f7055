"""Figures: definitions checked by hand on a small cohort, working days against the Python calendar,
data scope, set-based queries, the page and its Excel export."""

from __future__ import annotations

import dataclasses
import datetime
import io
import random
import uuid

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from fengqiao.cases import figures
from fengqiao.cases.figures import FigureParams, calendar_exceptions, refresh_rollup, workdays_upto
from fengqiao.cases.figures_models import CaseFigureMonth
from fengqiao.cases.models import Case, CaseState
from fengqiao.workdays import deadlines as wd
from fengqiao.workdays.models import CalendarDay, CalendarYear, DayKind

from . import small_world
from .small_world import at, make_case

NOW = at(2025, 4, 10, 12)
MARCH = FigureParams(start=datetime.date(2025, 3, 1), end=datetime.date(2025, 3, 31), period="month")


def _calendar() -> None:
    """A holiday on Wednesday 5 March and a make-up working day on Saturday 8 March (invented)."""
    CalendarDay.objects.create(date=datetime.date(2025, 3, 5), is_workday=False, kind=DayKind.HOLIDAY, name="测试假日")
    CalendarDay.objects.create(date=datetime.date(2025, 3, 8), is_workday=True, kind=DayKind.MAKEUP_WORKDAY)
    CalendarYear.objects.update_or_create(year=2025, defaults={"complete": True, "version": uuid.uuid4()})
    wd.invalidate()


@pytest.fixture
def world(db):
    w = small_world.build()
    _calendar()
    hazard, neighbour = w.categories["hazard"], w.categories["neighbour"]
    petition, permit = w.categories["petition"], w.categories["permit"]
    g1 = w.regions["440305001001001"]  # 粤海街道 › 科技园社区
    gaoxin = w.regions["440305001002"]  # 粤海街道 › 高新社区
    bsz = w.regions["440305002001"]  # 沙河街道 › 白石洲社区
    u_kjy, u_gx, u_sh = w.units["440305001001"], w.units["440305001002"], w.units["440305002"]
    closed = {"state": CaseState.CLOSED, "resolution_outcome": "resolved"}
    w.cases = {
        # closed on time, rated 5, answered in time; 2 working days (the 5th is a holiday)
        "A": make_case(
            hazard,
            g1,
            unit=u_kjy,
            received_at=at(2025, 3, 3, 10),
            resolved_at=at(2025, 3, 6, 15),
            closed_at=at(2025, 3, 7, 9),
            resolution_due=at(2025, 3, 7, 23, 59),
            rating=5,
            first_response_due=at(2025, 3, 4, 23, 59),
            first_responded_at=at(2025, 3, 3, 12),
            **closed,
        ),
        # closed late, rated 3, answered late, outcome not "resolved"; 8 working days
        "B": make_case(
            hazard,
            g1,
            unit=u_kjy,
            received_at=at(2025, 3, 10, 9),
            resolved_at=at(2025, 3, 20, 10),
            closed_at=at(2025, 3, 21, 9),
            resolution_due=at(2025, 3, 13, 23, 59),
            rating=3,
            first_response_due=at(2025, 3, 11, 23, 59),
            first_responded_at=at(2025, 3, 12, 9),
            state=CaseState.CLOSED,
            resolution_outcome="",
        ),
        # closed on time over the make-up Saturday: Sat 8 (working) + Mon 10 = 2 working days
        "I": make_case(
            hazard,
            g1,
            unit=u_kjy,
            received_at=at(2025, 3, 7, 18),
            resolved_at=at(2025, 3, 10, 9),
            closed_at=at(2025, 3, 10, 15),
            resolution_due=at(2025, 3, 12, 23, 59),
            first_response_due=at(2025, 3, 10, 23, 59),
            first_responded_at=at(2025, 3, 8, 9),
            **closed,
        ),
        # open petition past its deadline, first response overdue
        "C": make_case(
            petition,
            bsz,
            unit=u_sh,
            received_at=at(2025, 3, 15, 11),
            state=CaseState.IN_PROGRESS,
            resolution_due=at(2025, 4, 1, 23, 59),
            first_response_due=at(2025, 3, 30, 23, 59),
        ),
        # open service request, not yet due
        "D": make_case(
            permit,
            gaoxin,
            unit=u_gx,
            received_at=at(2025, 3, 20, 11),
            state=CaseState.ASSIGNED,
            resolution_due=at(2025, 5, 1, 23, 59),
            first_response_due=at(2025, 4, 20, 23, 59),
        ),
        # not accepted, and a merged duplicate: received but not accepted
        "E": make_case(
            hazard,
            g1,
            unit=u_kjy,
            received_at=at(2025, 3, 25, 9),
            state=CaseState.REJECTED,
            resolved_at=at(2025, 3, 25, 10),
            closed_at=at(2025, 3, 25, 10),
            resolution_outcome="rejected",
        ),
        "F": make_case(
            neighbour,
            bsz,
            unit=u_sh,
            received_at=at(2025, 3, 26, 9),
            state=CaseState.MERGED,
            resolution_outcome="merged",
        ),
        # suspended: its deadline passed while the clock is stopped, so it is not overdue
        "H": make_case(
            hazard,
            bsz,
            unit=u_sh,
            received_at=at(2025, 3, 28, 9),
            state=CaseState.IN_PROGRESS,
            suspended_at=at(2025, 3, 29, 9),
            resolution_due=at(2025, 4, 1, 23, 59),
        ),
        # outside the period
        "G": make_case(
            hazard,
            g1,
            unit=u_kjy,
            received_at=at(2025, 2, 20, 9),
            resolved_at=at(2025, 2, 21, 9),
            closed_at=at(2025, 2, 21, 10),
            resolution_due=at(2025, 2, 25, 23, 59),
            rating=5,
            **closed,
        ),
    }
    w.admin = small_world.staff("admin", ["cases.view_case", "cases.view_category"], None, scope="all")
    w.street1 = small_world.staff(
        "street1", ["cases.view_case", "cases.view_category", "regions.view_region"], w.units["440305001"]
    )
    w.nobody = small_world.staff("nobody", ["regions.view_region"], w.units["440305001"])
    return w


def test_totals_by_hand(world):
    t = figures.totals(world.admin, MARCH, now=NOW)
    assert (t.received, t.accepted, t.completed) == (8, 6, 3)
    assert t.completion_rate == pytest.approx(3 / 6)
    # on time: A and I; late: B closed late + C open overdue (H is suspended, D not yet due)
    assert (t.closed_on_time, t.open_overdue) == (2, 1)
    assert t.on_time_rate == pytest.approx(2 / 4)
    assert (t.rated, t.satisfied, t.satisfaction_rate) == (2, 1, 0.5)
    # reports and petitions closed: A, B, I (C is open); resolved: A and I
    assert (t.disputes_closed, t.disputes_resolved) == (3, 2)
    assert t.handled == 3
    assert t.avg_hours == pytest.approx((77 + 241 + 63) / 3)
    assert t.handling_workdays == 2 + 8 + 2
    assert t.avg_workdays == pytest.approx(4.0)
    # first response: A and I in time; B late; C open past its first-response deadline; D not yet due
    assert (t.first_response_on_time, t.first_response_due, t.first_response_rate) == (2, 4, 0.5)


def test_groups(world):
    result = figures.figures(world.admin, MARCH, now=NOW)
    streets = {r.key: r for r in result.groups["street"]}
    assert {k: (r.label, r.received, r.accepted, r.completed) for k, r in streets.items()} == {
        "440305001": ("粤海街道", 5, 4, 3),
        "440305002": ("沙河街道", 3, 2, 0),
    }
    communities = {r.key: r.received for r in result.groups["community"]}
    assert communities == {"440305001001": 4, "440305001002": 1, "440305002001": 3}
    units = {r.label: r.received for r in result.groups["unit"]}
    assert units == {"科技园社区综治中心": 4, "高新社区综治中心": 1, "沙河街道综治中心": 3}
    categories = {r.label: r.received for r in result.groups["category"]}
    assert categories == {"Hazard": 5, "Neighbour": 1, "Petition": 1, "Permit": 1}  # English names in English
    assert [(r.label, r.received) for r in result.groups["period"]] == [("2025-03", 8)]
    # the groups add up to the totals
    for rows in result.groups.values():
        assert sum(r.received for r in rows) == result.total.received
        assert sum(r.completed for r in rows) == result.total.completed
        assert sum(r.handling_workdays for r in rows) == result.total.handling_workdays


def test_trend_by_day_and_week(world):
    by_day = figures.grouped(world.admin, FigureParams(MARCH.start, MARCH.end, period="day"), "period", now=NOW)
    assert by_day[0].label == "2025-03-03" and by_day[0].received == 1
    assert sum(r.received for r in by_day) == 8
    by_week = figures.grouped(world.admin, FigureParams(MARCH.start, MARCH.end, period="week"), "period", now=NOW)
    assert [r.label for r in by_week][:2] == ["2025-W10", "2025-W11"]
    assert sum(r.received for r in by_week) == 8


def test_filters(world):
    def received(**kw):
        return figures.totals(world.admin, FigureParams(MARCH.start, MARCH.end, **kw), now=NOW).received

    assert received(region="440305002") == 3
    assert received(region="440305001002") == 1
    assert received(category_id=world.categories["hazard"].pk) == 5
    assert received(kind="petition") == 1
    feb = FigureParams(datetime.date(2025, 2, 1), datetime.date(2025, 2, 28))
    assert figures.totals(world.admin, feb, now=NOW).received == 1


def test_data_scope(world):
    street = figures.figures(world.street1, MARCH, now=NOW)
    assert street.total.received == 5
    assert [r.key for r in street.groups["street"]] == ["440305001"]
    assert figures.totals(world.nobody, MARCH, now=NOW).received == 0


def test_set_based_queries(world):
    """Without a rollup: one aggregate query over the cases, whatever their number; none loaded into Python."""
    for i in range(30):
        make_case(world.categories["hazard"], world.regions["440305001001001"], received_at=at(2025, 3, 1 + i % 28))
    with CaptureQueriesContext(connection) as ctx:
        result = figures.figures(world.admin, MARCH, now=NOW)
    assert result.total.received == 38
    assert (result.rollup_months, result.live_days) == (0, 31)
    case_queries = [q["sql"] for q in ctx.captured_queries if '"cases_case"' in q["sql"]]
    assert len(case_queries) == 1
    assert "GROUP BY" in case_queries[0] and "COUNT(" in case_queries[0].upper()


def _comparable(result):
    def row(r):
        d = dataclasses.asdict(r)
        d["handling_seconds"] = round(d["handling_seconds"], 3)
        return d

    return row(result.total), {g: [row(r) for r in rows] for g, rows in result.groups.items()}


@pytest.mark.parametrize("username", ["admin", "street1"])
def test_rollup_gives_the_same_figures(world, username):
    user = getattr(world, username)
    later = timezone.now() + datetime.timedelta(hours=1)  # the rollup's clock, after every write of the test
    live = figures.figures(user, MARCH, now=later)
    assert live.rollup_months == 0
    assert refresh_rollup(now=later)["months"] >= 2  # February and March
    assert CaseFigureMonth.objects.filter(month=datetime.date(2025, 3, 1)).exists()
    with CaptureQueriesContext(connection) as ctx:
        rolled = figures.figures(user, MARCH, now=later)
    assert (rolled.rollup_months, rolled.live_days) == (1, 0)
    assert _comparable(rolled) == _comparable(live)
    case_queries = [q["sql"] for q in ctx.captured_queries if 'FROM "cases_case"' in q["sql"]]
    assert len(case_queries) == 1  # only the check for months changed since the refresh


def test_rollup_months_changed_since_are_counted_live(world):
    t1 = timezone.now() + datetime.timedelta(hours=1)
    refresh_rollup(now=t1)
    before = figures.totals(world.admin, MARCH, now=t1 + datetime.timedelta(minutes=5))
    assert before.rated == 2
    # a resident rates case I after the refresh: its month is counted live until the next refresh
    Case.objects.filter(pk=world.cases["I"].pk).update(rating=5, updated_at=t1 + datetime.timedelta(minutes=10))
    t2 = t1 + datetime.timedelta(minutes=20)
    during = figures.figures(world.admin, MARCH, now=t2)
    assert (during.rollup_months, during.total.rated, during.total.satisfied) == (0, 3, 2)
    assert refresh_rollup(now=t2)["months"] == 1
    after = figures.figures(world.admin, MARCH, now=t2 + datetime.timedelta(minutes=10))
    assert (after.rollup_months, after.total.rated, after.total.satisfied) == (1, 3, 2)
    # a second run at once changes nothing and finds nothing to do
    assert refresh_rollup(now=t2 + datetime.timedelta(minutes=11))["months"] == 0


def test_rollup_not_used_when_the_scope_needs_cases(world):
    from fengqiao.accounts.models import Role

    grid_user = small_world.staff("gw", ["cases.view_case"], world.units["440305001001"], scope="grids")
    assert figures.rollup_scope(grid_user) is None
    assert figures.rollup_scope(world.street1) is not None
    assert figures.rollup_scope(world.nobody) == Q(pk__in=[])
    assert Role.objects.filter(code="role-gw").exists()
    later = timezone.now() + datetime.timedelta(hours=1)
    refresh_rollup(now=later)
    assert figures.figures(grid_user, MARCH, now=later).rollup_months == 0
    # a region filter below community level cannot use the rollup either
    params = dataclasses.replace(MARCH, region="440305001001001")
    result = figures.figures(world.admin, params, now=later)
    assert (result.rollup_months, result.total.received) == (0, 4)


def test_working_days_match_the_calendar(db):
    """The SQL working-day count equals fengqiao.workdays for random spans over real holidays."""
    from fengqiao.workdays.services import seed_from_chinese_calendar

    seed_from_chinese_calendar()
    wd.invalidate()
    w = small_world.build()
    rng = random.Random(3)
    start = at(2024, 12, 20, 0)
    for _ in range(60):
        received = start + datetime.timedelta(minutes=rng.randrange(0, 70 * 24 * 60))
        resolved = received + datetime.timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        make_case(
            w.categories["hazard"],
            w.regions["440305001001"],
            received_at=received,
            resolved_at=resolved,
            state=CaseState.CLOSED,
        )
    exceptions = calendar_exceptions(datetime.date(2024, 1, 1), datetime.date(2025, 12, 31))
    assert exceptions, "the seeded calendar has holidays and make-up days"
    rows = Case.objects.annotate(
        w=workdays_upto("resolved_at", exceptions) - workdays_upto("received_at", exceptions)
    ).values_list("received_at", "resolved_at", "w")
    for row in rows:
        got_received, got_resolved, counted = row
        assert got_resolved is not None
        assert counted == wd.working_days_between(got_received, got_resolved), row


# --- the page ------------------------------------------------------------------------------


def test_page_requires_permission(world, client):
    client.force_login(world.nobody)
    assert client.get(reverse("figures:page")).status_code == 403
    assert client.get(reverse("figures:export")).status_code == 403
    client.logout()
    assert client.get(reverse("figures:page")).status_code == 302  # to the login page


def test_page_shows_figures(world, client):
    client.force_login(world.admin)
    query = {"preset": "custom", "start": "2025-03-01", "end": "2025-03-31"}
    with translation.override("zh-hans"):
        response = client.get(reverse("figures:page"), query, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    html = response.content.decode()
    assert "受理 <b>6</b> 件，办结 <b>3</b> 件，满意率 <b>50.0%</b>" in html
    assert "vendor/echarts/echarts.min.js" in html
    assert "粤海街道" in html and "科技园社区综治中心" in html and "安全隐患" in html
    assert 'id="figures-charts"' in html


def test_page_bad_dates(world, client):
    client.force_login(world.admin)
    response = client.get(
        reverse("figures:page"),
        {"preset": "custom", "start": "2025-03-31", "end": "2025-03-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "The end date is before the start date" in response.content.decode()
    response = client.get(
        reverse("figures:page"),
        {"preset": "custom", "start": "2020-01-01", "end": "2025-03-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "at most three years" in response.content.decode()


def test_page_region_outside_scope_is_refused(world, client):
    client.force_login(world.street1)
    response = client.get(
        reverse("figures:page"), {"preset": "custom", "start": "2025-03-01", "end": "2025-03-31", "region": "440305002"}
    )
    assert response.status_code == 200
    assert response.context["total"].received == 5  # the filter is refused, the scope still applies
    assert response.context["form"].errors


def test_excel_export(world, client):
    client.force_login(world.street1)
    response = client.get(
        reverse("figures:export"),
        {"preset": "custom", "start": "2025-03-01", "end": "2025-03-31"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert wb.sheetnames == ["Summary", "By unit", "By street", "By community", "By category", "By period"]
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Received"] == 5 and summary["Accepted"] == 4 and summary["Completed"] == 3
    streets = list(wb["By street"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1]) for r in streets] == [("粤海街道", 5)]
    from fengqiao.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="cases.figures.export", actor=world.street1).exists()


def test_page_dates_without_preset_and_default_period(world, client):
    client.force_login(world.admin)
    response = client.get(reverse("figures:page"), {"start": "2025-03-01", "end": "2025-03-31"})
    assert response.context["params"].start == datetime.date(2025, 3, 1)
    assert response.context["total"].received == 8
    response = client.get(reverse("figures:page"))  # this year so far, by month
    params = response.context["params"]
    assert (params.start, params.end, params.period) == (
        timezone.localdate().replace(month=1, day=1),
        timezone.localdate(),
        "month",
    )
    assert f'value="{params.start.isoformat()}"' in response.content.decode()
