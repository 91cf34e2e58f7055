"""Excel import of cases: all or nothing, every problem by row and column."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.cases.imports import COLUMNS
from fengqiao.cases.models import Case, Category

from . import test_views_support as support
from .test_views_support import client_for, street_community

pytestmark = pytest.mark.django_db

# the demo district once per module (see test_views_support)
_district_for_module = support._district_for_module
district = support.district

HEADERS = [c.headers[0] for c in COLUMNS]


def workbook(rows: list[list[Any]], headers: list[str] | None = None) -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(headers or HEADERS)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile("cases.xlsx", out.getvalue())


def good_row(community_code: str | None, **kw: Any) -> list[Any]:
    row = {
        "类别编码": "environment",
        "描述": "小区垃圾桶满了没人清运",
        "社区编码": community_code,
        "地址": "5号楼",
        "经度": None,
        "纬度": None,
        "来源渠道": "电话",
        "反映人": "张三",
        "电话": "13800138000",
        "受理时间": "2026-03-15 09:30",
    }
    row.update(kw)
    return [row[h] for h in HEADERS]


def upload(client: Any, file: SimpleUploadedFile) -> Any:
    return client.post("/cases/import/", {"file": file})


def test_template_download(users: dict[str, Any]) -> None:
    response = client_for(users["street_centre_1"]).get("/cases/import/template/")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    header = [c.value for c in wb.worksheets[0][1]]
    assert header == HEADERS
    codes = [row[0] for row in wb.worksheets[1].iter_rows(min_row=2, values_only=True)]
    assert "environment" in codes and "residence-permit" in codes


def test_good_file_imports_every_row(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    community = street_community(street)
    hazard_free = [
        good_row(community.code),
        good_row(community.code, 描述="路灯不亮", 来源渠道="来访", 反映人=None, 电话=None),
        good_row(community.code, 描述="车辆乱停", 来源渠道=None, 受理时间="2026/03/16 14:00"),
    ]
    response = upload(client_for(street), workbook(hazard_free))
    assert response.status_code == 302
    cases = list(Case.objects.order_by("received_at"))
    assert len(cases) == 3
    assert [c.channel for c in cases] == ["phone", "walk_in", "import"]
    assert all(c.filed_by == street and c.community == community for c in cases)
    assert cases[0].reporter_phone_masked == "138****8000"
    assert timezone.localtime(cases[0].received_at).isoformat().startswith("2026-03-15T09:30")
    assert AuditEvent.objects.filter(action="cases.import", detail__rows=3).exists()


def test_every_problem_is_listed_and_nothing_is_imported(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    community = street_community(street)
    theirs = street_community(users["street_centre_2"])
    rows = [
        good_row(community.code),  # fine
        good_row(community.code, 类别编码="no-such-category"),  # row 3
        good_row("999999999999"),  # row 4: unknown community
        good_row(theirs.code),  # row 5: outside the area
        good_row(community.code, 受理时间="yesterday"),  # row 6
        good_row(community.code, 描述=None),  # row 7: required
        good_row(community.code, 来源渠道="飞鸽传书"),  # row 8
        good_row(None, 经度=113.9),  # row 9: neither community nor both coordinates
        good_row(community.code, 受理时间="2099-01-01 10:00"),  # row 10: in the future
    ]
    response = upload(client_for(street), workbook(rows))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in body
    for expected in (
        "row 3, column A",
        "No active category with the code no-such-category",
        "row 4, column C",
        "No community with the code 999999999999",
        "row 5, column C",
        "is outside your area",
        "row 6, column J",
        "is not a date and time",
        "row 7, column B",
        "This cell is required.",
        "row 8, column G",
        "Unknown channel",
        "row 9",
        "Give the community code, or the longitude and latitude",
        "row 10, column J",
        "in the future",
    ):
        assert expected in body, expected
    assert Case.objects.count() == 0


def test_a_row_refused_by_the_service_rolls_back_the_others(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    community = street_community(street)
    rows = [
        good_row(community.code),
        good_row(community.code, 电话="12345"),  # not a phone number: found by the service
        good_row(community.code, 类别编码="hazard"),  # needs 隐患类型
    ]
    body = upload(client_for(street), workbook(rows)).content.decode()
    assert "row 3, column I" in body
    assert "row 4" in body and "is required" in body
    assert Case.objects.count() == 0
    assert not AuditEvent.objects.filter(action__in=["cases.submit", "cases.import"]).exists()


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (SimpleUploadedFile("cases.xlsx", b"this is not a workbook"), "not a readable Excel"),
        (SimpleUploadedFile("cases.xls", b"old format"), "save older .xls files as .xlsx"),
        (workbook([], headers=["名称", "描述"]), "Missing column"),
        (workbook([]), "no rows below the headers"),
    ],
)
def test_bad_files(users: dict[str, Any], file: SimpleUploadedFile, message: str) -> None:
    body = upload(client_for(users["street_centre_1"]), file).content.decode()
    assert message in body
    assert Case.objects.count() == 0


def test_import_needs_the_add_permission(users: dict[str, Any]) -> None:
    client = client_for(users["street_leader_1"])
    assert client.get("/cases/import/").status_code == 403
    assert client.get("/cases/import/template/").status_code == 403
    community = street_community(users["street_leader_1"])
    assert upload(client, workbook([good_row(community.code)])).status_code == 403
    assert not Category.objects.filter(cases__isnull=False).exists()
