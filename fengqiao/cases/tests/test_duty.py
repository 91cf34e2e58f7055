"""The 24-hour duty console: live alerts in scope, logged acknowledgement, cases near their deadline."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.cases.models import Case, Category, DutyAlert

from . import test_views_support as support
from .test_views_support import client_for, file_case, street_grid

pytestmark = pytest.mark.django_db

# the demo district once per module (see test_views_support)
_district_for_module = support._district_for_module
district = support.district


def test_console_polls_its_feed(users: dict[str, Any]) -> None:
    body = client_for(users["street_centre_1"]).get("/cases/duty/").content.decode()
    assert 'hx-get="/cases/duty/feed/"' in body and 'hx-trigger="every 5s"' in body
    assert "duty.js" in body


def test_a_new_case_appears_in_the_feed_without_reload(users: dict[str, Any], category: Category) -> None:
    client = client_for(users["street_centre_1"])
    before = client.get("/cases/duty/feed/", HTTP_HX_REQUEST="true").content.decode()
    case = file_case(category, street_grid(users["street_centre_1"]))
    after = client.get("/cases/duty/feed/", HTTP_HX_REQUEST="true")
    body = after.content.decode()
    assert case.number not in before and case.number in body
    assert "<html" not in body and 'data-count="1"' in body
    assert "New report" in body
    assert "no-cache" in after["Cache-Control"]


def test_alerts_are_scoped(users: dict[str, Any], category: Category) -> None:
    case = file_case(category, street_grid(users["street_centre_1"]))
    body = client_for(users["street_centre_2"]).get("/cases/duty/feed/").content.decode()
    assert case.number not in body and 'data-count="0"' in body


def test_acknowledgement_is_logged_and_clears_the_alert(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    case = file_case(category, street_grid(street))
    alert = DutyAlert.objects.get(case=case)
    client = client_for(street)
    response = client.post(f"/cases/duty/alerts/{alert.pk}/acknowledge/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and case.number not in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == street and alert.acknowledged_at is not None
    event = AuditEvent.objects.get(action="cases.alert.acknowledge")
    assert event.actor == street and event.object_id == str(case.pk)
    # a second click (or a colleague who saw the same alert) changes nothing and logs nothing more
    again = client.post(f"/cases/duty/alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="cases.alert.acknowledge").count() == 1


def test_acknowledging_needs_permission_and_scope(users: dict[str, Any], category: Category) -> None:
    case = file_case(category, street_grid(users["street_centre_1"]))
    alert = DutyAlert.objects.get(case=case)
    assert client_for(users["street_centre_2"]).post(f"/cases/duty/alerts/{alert.pk}/acknowledge/").status_code == 404
    # the street leader watches the console but does not acknowledge
    leader = client_for(users["street_leader_1"])
    assert case.number in leader.get("/cases/duty/feed/").content.decode()
    assert "Acknowledge" not in leader.get("/cases/duty/feed/").content.decode()
    assert leader.post(f"/cases/duty/alerts/{alert.pk}/acknowledge/").status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_cases_near_or_past_their_deadline(users: dict[str, Any], category: Category) -> None:
    grid = street_grid(users["street_centre_1"])
    late = file_case(category, grid, description="已超期")
    soon = file_case(category, grid, description="快到期")
    calm = file_case(category, grid, description="时间充裕")
    now = timezone.now()
    for case, days_ago, due_in in ((late, 10, -2), (soon, 5, 3)):
        start = now - datetime.timedelta(days=days_ago)
        Case.objects.filter(pk=case.pk).update(
            received_at=start, clock_started_at=start, resolution_due=now + datetime.timedelta(hours=due_in)
        )
    body = client_for(users["street_centre_1"]).get("/cases/duty/feed/").content.decode()
    section = body.split("Cases near or past their deadline", 1)[1]
    assert late.number in section and soon.number in section and calm.number not in section
    assert "overdue" in section and "due soon" in section


def test_calendar_warning_banner(users: dict[str, Any], monkeypatch: Any) -> None:
    from fengqiao.cases import views

    monkeypatch.setattr(views, "_calendar_warnings", lambda: ["2027年的工作日历尚未录入：期限按周一至周五计算。"])
    body = client_for(users["street_centre_1"]).get("/cases/duty/feed/").content.decode()
    assert "calendar-warning" in body and "2027年的工作日历尚未录入" in body
