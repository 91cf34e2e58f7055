"""Team pages: permissions and scope (404 outside), forms with bad input (errors, kept input, nothing written),
patrols, findings, the resolution page and its Excel export, the Chinese catalogue."""

from __future__ import annotations

import datetime
import io

import openpyxl
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from fengqiao.audit.models import AuditEvent
from fengqiao.cases.models import Case, Category
from fengqiao.regions.models import Level, Region
from fengqiao.teams.models import PatrolFinding, PatrolRecord, TeamMember


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_list_and_detail(tdst, users):
    client = _client(users["street_centre_1"])
    page = client.get(reverse("teams:list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert tdst.name in body
    detail = client.get(reverse("teams:detail", args=[tdst.pk]))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "Members" in text and "Record a patrol" in text
    member = TeamMember.objects.filter(team=tdst)[0]
    assert member.name_masked in text


def test_out_of_scope_team_is_404_and_no_permission_is_403(tdst, users):
    assert _client(users["street_centre_2"]).get(reverse("teams:detail", args=[tdst.pk])).status_code == 404
    assert _client(users["grid_worker_1"]).get(reverse("teams:list")).status_code == 403
    member = TeamMember.objects.filter(team=tdst)[0]
    assert _client(users["street_centre_2"]).get(reverse("teams:member_edit", args=[member.pk])).status_code == 404


def test_team_member_account_sees_own_team(tdst, users):
    client = _client(users["mediator_1"])
    assert client.get(reverse("teams:detail", args=[tdst.pk])).status_code == 200
    other = PatrolRecord.objects.exclude(team=tdst)[0]
    assert client.get(reverse("teams:patrol", args=[other.pk])).status_code == 404


def test_add_member_bad_input_keeps_values_and_writes_nothing(tdst, users):
    client = _client(users["street_centre_1"])
    before = TeamMember.objects.count()
    url = reverse("teams:member_add", args=[tdst.pk])
    response = client.post(url, {"name": "赵六", "phone": "123", "role": "member", "since": "2024-01-01"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "赵六" in body and "phone" in body.lower()
    assert TeamMember.objects.count() == before
    response = client.post(
        url,
        {
            "name": "赵六",
            "phone": "",
            "role": "member",
            "since": "2024-01-01",
            "resident_id_number": "110101199003077777",
        },
    )
    assert "No resident with this ID number" in response.content.decode()
    assert TeamMember.objects.count() == before
    response = client.post(url, {"name": "赵六", "phone": "13800138000", "role": "member", "since": "2024-01-01"})
    assert response.status_code == 302
    assert TeamMember.objects.count() == before + 1


def test_edit_and_end_member(tdst, users):
    client = _client(users["street_centre_1"])
    member = TeamMember.objects.filter(team=tdst, user__isnull=True)[0]
    url = reverse("teams:member_edit", args=[member.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"name": "", "phone": "", "role": "deputy", "since": str(member.since), "skills": "调解"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == "deputy"
    response = client.post(reverse("teams:member_end", args=[member.pk]), {"until": str(timezone.localdate())})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.until == timezone.localdate()


def test_reveal_needs_reason_and_is_logged(tdst, users):
    client = _client(users["street_centre_1"])
    member = TeamMember.objects.filter(team=tdst)[0]
    url = reverse("teams:member_reveal", args=[member.pk, "phone"])
    assert "Give the reason" in client.post(url, {}).content.decode()
    response = client.post(url, {"reason": "联系调解"})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="pii.reveal", result="ok").exists()
    assert _client(users["street_centre_2"]).post(url, {"reason": "x"}).status_code == 404


def _patrol_post(team, **changes):
    now = timezone.localtime().replace(second=0, microsecond=0)
    grid = Region.objects.filter(level=Level.GRID, path__startswith=team.region_path).order_by("path")[0]
    data = {
        "started_at": (now - datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "ended_at": (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "participants": [m.pk for m in TeamMember.objects.filter(team=team)[:2]],
        "grids": [grid.pk],
        "notes": "巡逻记录",
        "findings": "路灯损坏",
        "route": "",
    }
    data.update(changes)
    return data


def test_record_patrol_form(patrol_team, users):
    client = _client(users["street_centre_1"])
    url = reverse("teams:patrol_add", args=[patrol_team.pk])
    assert client.get(url).status_code == 200
    before = PatrolRecord.objects.count()
    bad = client.post(url, _patrol_post(patrol_team, route="{not json", notes="保留我"))
    assert bad.status_code == 200 and "not valid JSON" in bad.content.decode() and "保留我" in bad.content.decode()
    bad = client.post(url, _patrol_post(patrol_team, participants=[]))
    assert bad.status_code == 200
    earlier = _patrol_post(patrol_team)
    earlier["ended_at"] = earlier["started_at"]
    assert "must end after" in client.post(url, earlier).content.decode()
    assert PatrolRecord.objects.count() == before
    route = '{"type": "LineString", "coordinates": [[113.9, 22.5], [113.91, 22.51]]}'
    good = client.post(url, _patrol_post(patrol_team, route=route))
    assert good.status_code == 302
    patrol = PatrolRecord.objects.latest("id")
    assert patrol.route == {"type": "LineString", "coordinates": [[113.9, 22.5], [113.91, 22.51]]}
    page = client.get(reverse("teams:patrol", args=[patrol.pk])).content.decode()
    assert "路灯损坏" in page and 'id="patrol-map-data"' in page
    edit = client.post(reverse("teams:patrol_edit", args=[patrol.pk]), _patrol_post(patrol_team, notes="改"))
    assert edit.status_code == 302
    assert client.get(reverse("teams:patrols")).status_code == 200


def test_report_finding_form(patrol_team, users):
    client = _client(users["street_centre_1"])
    patrol = PatrolRecord.objects.filter(team=patrol_team)[0]
    url = reverse("teams:patrol", args=[patrol.pk])
    hazard = Category.objects.get(code="hazard")
    cases = Case.objects.count()
    response = client.post(url, {"category": hazard.pk, "description": "消防通道堵塞"})
    assert response.status_code == 200  # the hazard type is required: shown next to its field
    assert "is required" in response.content.decode() and "消防通道堵塞" in response.content.decode()
    assert Case.objects.count() == cases
    key = hazard.extra_fields[0]["values"][0]["key"]
    response = client.post(url, {"category": hazard.pk, "description": "消防通道堵塞", "extra_hazard_type": key})
    assert response.status_code == 302
    assert PatrolFinding.objects.filter(patrol=patrol).count() == 1


def test_resolution_page_and_export(tdst, users):
    client = _client(users["street_centre_1"])
    page = client.get(reverse("teams:resolution"))
    assert page.status_code == 200
    for group in ("team", "street", "community"):
        assert client.get(reverse("teams:resolution"), {"group": group}).status_code == 200
    bad = client.get(reverse("teams:resolution"), {"start": "2025-05-01", "end": "2025-01-01"})
    assert "cannot be before" in bad.content.decode()
    assert client.get(reverse("teams:resolution"), {"start": "garbage"}).status_code == 200
    export = client.get(reverse("teams:resolution_export"), {"group": "street"})
    assert export.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    assert book.worksheets[0].cell(1, 1).value == "Group"
    assert AuditEvent.objects.filter(action="teams.resolution_export").exists()
    assert _client(users["grid_worker_1"]).get(reverse("teams:resolution")).status_code == 403


def test_chinese_page(tdst, users, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client = _client(users["street_centre_1"])
    with translation.override("zh-hans"):
        body = client.get(reverse("teams:detail", args=[tdst.pk])).content.decode()
        rates = client.get(reverse("teams:resolution")).content.decode()
    assert "登记巡逻" in body and "交由本队办理的事件" in body
    assert "队伍纠纷化解率" in rates
