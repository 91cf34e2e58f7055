from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from fengqiao.audit.tests.factories import make_user
from fengqiao.workdays import services
from fengqiao.workdays.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

D = dt.date
HX = {"HX-Request": "true"}
ALL = ["workdays.view_calendarday", "workdays.change_calendarday"]


def _rows(response):
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def _client(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    return _client(make_user(ALL, username="caladmin"))


@pytest.fixture
def seeded() -> None:
    services.seed_from_chinese_calendar([2026])


def test_permissions(seeded) -> None:
    nobody = _client(make_user(["audit.view_auditevent"]))
    for url in (
        reverse("workdays:index"),
        reverse("workdays:year", args=[2026]),
        reverse("workdays:export", args=[2026]),
    ):
        assert nobody.get(url).status_code == 403
    assert nobody.get(reverse("workdays:day", args=["2026-10-01"])).status_code == 403
    viewer = _client(make_user(["workdays.view_calendarday"]))
    html = viewer.get(reverse("workdays:year", args=[2026])).content.decode()
    assert "Mark as not complete" not in html and "Mark the year complete" not in html
    editor = viewer.get(reverse("workdays:day", args=["2026-10-01"]), headers=HX).content.decode()
    assert "<form" not in editor and "National" not in editor and "国庆节" in editor
    assert viewer.post(reverse("workdays:day", args=["2026-10-01"]), {"is_workday": "1"}).status_code == 403
    assert viewer.post(reverse("workdays:year_complete", args=[2026]), {"complete": "0"}).status_code == 403
    assert CalendarDay.objects.get(date=D(2026, 10, 1)).is_workday is False
    assert Client().get(reverse("workdays:year", args=[2026])).status_code == 302  # login first


def test_year_page_colours_holidays_and_make_up_days(admin_client, seeded) -> None:
    assert admin_client.get(reverse("workdays:index")).status_code == 302
    html = admin_client.get(reverse("workdays:year", args=[2026])).content.decode()
    assert 'id="d-2026-10-01" class="k-holiday' in html
    assert 'id="d-2026-10-10" class="k-makeup_workday' in html
    assert 'id="d-2026-10-11" class="k-weekend' in html
    assert "Complete" in html and "Mark as not complete" in html
    # 2027: not entered, every day is a Monday–Friday fallback and the page says so
    html = admin_client.get(reverse("workdays:year", args=[2027])).content.decode()
    assert 'id="d-2027-01-01" class="k-workday fallback' in html and "Not complete" in html
    assert admin_client.get(reverse("workdays:year", args=[1900])).status_code == 404
    assert admin_client.get(reverse("workdays:day", args=["2026-02-30"])).status_code == 404


def test_chinese_page(seeded) -> None:
    client = _client(make_user(ALL), language="zh-hans")
    html = client.get(reverse("workdays:year", args=[2026])).content.decode()
    assert "工作日历" in html and "调休" in html and "十月" in html


def test_edit_a_day_with_htmx(admin_client, seeded) -> None:
    url = reverse("workdays:day", args=["2026-10-09"])
    editor = admin_client.get(url, headers=HX).content.decode()
    assert "<html" not in editor and 'value="1"' in editor
    response = admin_client.post(url, {"is_workday": "0", "name": "区庆"}, headers=HX)
    html = response.content.decode()
    assert "Saved" in html and 'hx-swap-oob="true"' in html and 'id="d-2026-10-09" class="k-holiday manual' in html
    day = CalendarDay.objects.get(date=D(2026, 10, 9))
    assert (day.is_workday, day.name, day.source) == (False, "区庆", "manual")
    # bad input: a clear message, nothing changed
    html = admin_client.post(url, {"name": "x"}, headers=HX).content.decode()
    assert "Choose whether this day is a working day or a day off." in html
    html = admin_client.post(url, {"is_workday": "1", "name": "x" * 101}, headers=HX).content.decode()
    assert "at most 100 characters" in html
    assert CalendarDay.objects.get(date=D(2026, 10, 9)).name == "区庆"


def test_edit_a_day_without_javascript(admin_client) -> None:
    url = reverse("workdays:day", args=["2027-01-01"])
    assert "<html" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"is_workday": "0", "name": "元旦"})
    assert response.status_code == 302 and response["Location"] == reverse("workdays:year", args=[2027])
    assert CalendarDay.objects.get(date=D(2027, 1, 1)).kind == "holiday"


def test_mark_year_complete_and_back(admin_client) -> None:
    url = reverse("workdays:year_complete", args=[2027])
    response = admin_client.post(url, {"complete": "1", "note": "通知"}, follow=True)
    assert "marked complete" in response.content.decode()
    year = CalendarYear.objects.get(year=2027)
    assert year.complete and year.note == "通知"
    assert CalendarDay.objects.filter(date__year=2027).count() == 365
    response = admin_client.post(url, {"complete": "0"}, follow=True)
    assert "marked not complete" in response.content.decode()
    assert not CalendarYear.objects.get(year=2027).complete
    response = admin_client.post(url, {"complete": "1", "note": "x" * 201}, follow=True)
    assert "at most 200 characters" in response.content.decode()
    assert not CalendarYear.objects.get(year=2027).complete


def test_export(admin_client, seeded) -> None:
    rows = _rows(admin_client.get(reverse("workdays:export", args=[2026])))
    assert len(rows) == 366
    national = next(r for r in rows if r[0] is not None and str(r[0]).startswith("2026-10-01"))
    assert national[2] == "No" and national[4] == "国庆节"
