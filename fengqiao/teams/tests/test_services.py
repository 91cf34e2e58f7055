"""Members, patrols and findings through the services: good inputs, bad inputs (nothing written), scope."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.cases.models import Case, Category, Channel
from fengqiao.regions.models import Level, Region
from fengqiao.teams import services
from fengqiao.teams.models import PatrolFinding, PatrolRecord, TeamMember, TeamRole
from fengqiao.units.models import Unit, UnitKind

TODAY = datetime.date.today


def _count():
    return TeamMember.objects.count(), PatrolRecord.objects.count(), AuditEvent.objects.count()


def test_add_member_encrypts_and_audits(tdst, users):
    member = services.add_member(
        actor=users["street_centre_1"],
        team=tdst,
        name="王秀英",
        phone="13912345678",
        role=TeamRole.MEMBER,
        since=timezone.localdate(),
        skills="家庭纠纷调解",
    )
    member.refresh_from_db()
    assert str(member.name) != "王秀英" and member.name_masked.startswith("王")
    assert "1391" not in member.phone_masked or "*" in member.phone_masked
    assert member.region_path == tdst.region_path
    event = AuditEvent.objects.filter(action="teams.member_add").latest("id")
    assert "王秀英" not in str(event.after) and "13912345678" not in str(event.after)
    assert services.reveal_member_field(actor=users["street_centre_1"], obj=member, field="phone", reason="联系") == (
        "13912345678"
    )
    assert AuditEvent.objects.filter(action="pii.reveal").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "张" * 51}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"role": "boss"}, "role"),
        ({"since": None}, "since"),
        ({"since": datetime.date(2999, 1, 1)}, "since"),
        ({"until": datetime.date(2000, 1, 1)}, "until"),
        ({"skills": "x" * 201}, "skills"),
    ],
)
def test_add_member_refuses_bad_input_and_writes_nothing(tdst, users, changes, field):
    values = {"name": "李四", "phone": "", "role": TeamRole.MEMBER, "since": timezone.localdate()} | changes
    before = _count()
    with pytest.raises(ValidationError) as exc:
        services.add_member(actor=users["street_centre_1"], team=tdst, **values)
    assert field in exc.value.message_dict
    assert _count() == before


def test_add_member_to_a_unit_that_is_not_a_team(district, users):
    centre = Unit.objects.get(code=f"{users['street_centre_1'].unit.region_path}-zzzx")
    with pytest.raises(ValidationError) as exc:
        services.add_member(actor=users["street_centre_1"], team=centre, name="李四", since=timezone.localdate())
    assert "team" in exc.value.message_dict


def test_add_member_outside_scope_is_refused(tdst, users):
    before = _count()
    with pytest.raises(PermissionDenied):
        services.add_member(actor=users["street_centre_2"], team=tdst, name="李四", since=timezone.localdate())
    with pytest.raises(PermissionDenied):  # no permission at all
        services.add_member(actor=users["grid_worker_1"], team=tdst, name="李四", since=timezone.localdate())
    assert _count() == before


def test_same_account_twice_in_a_team_is_refused(tdst, users):
    with pytest.raises(ValidationError) as exc:
        services.add_member(
            actor=users["street_centre_1"], team=tdst, name="唐某", since=timezone.localdate(), user=users["mediator_1"]
        )
    assert "user" in exc.value.message_dict


def test_update_keeps_name_and_phone_when_not_given_and_end_membership(tdst, users):
    member = TeamMember.objects.filter(team=tdst, user__isnull=True)[0]
    masked = member.name_masked
    services.update_member(
        actor=users["street_centre_1"], member=member, role=TeamRole.DEPUTY, since=member.since, skills="法律咨询"
    )
    member.refresh_from_db()
    assert member.name_masked == masked and member.role == TeamRole.DEPUTY and member.skills == "法律咨询"
    with pytest.raises(ValidationError):
        services.end_member(actor=users["street_centre_1"], member=member, until=member.since - datetime.timedelta(1))
    services.end_member(actor=users["street_centre_1"], member=member, until=timezone.localdate())
    member.refresh_from_db()
    assert member.until == timezone.localdate()
    with pytest.raises(ValidationError):
        services.end_member(actor=users["street_centre_1"], member=member, until=timezone.localdate())


def _patrol_values(team, **changes) -> dict[str, Any]:
    now = timezone.now().replace(microsecond=0)
    grids = list(Region.objects.filter(level=Level.GRID, path__startswith=team.region_path).order_by("path")[:2])
    values = {
        "started_at": now - datetime.timedelta(hours=3),
        "ended_at": now - datetime.timedelta(hours=1),
        "grids": grids,
        "participants": list(TeamMember.objects.filter(team=team)[:2]),
        "route": {"type": "LineString", "coordinates": [[113.9, 22.5], [113.91, 22.51]]},
        "notes": "夜间巡逻",
        "findings": "井盖松动",
    }
    return values | changes


def test_record_patrol(patrol_team, users):
    patrol = services.record_patrol(actor=users["street_centre_1"], team=patrol_team, **_patrol_values(patrol_team))
    assert patrol.participants.count() == 2 and patrol.grids.count() == 2
    assert patrol.region_path == patrol_team.region_path
    assert AuditEvent.objects.filter(action="teams.patrol_record").exists()
    services.update_patrol(
        actor=users["street_centre_1"], patrol=patrol, **_patrol_values(patrol_team, notes="改过", route=None)
    )
    patrol.refresh_from_db()
    assert patrol.notes == "改过" and patrol.route is None


def test_record_patrol_bad_inputs_write_nothing(patrol_team, tdst, users):
    now = timezone.now()
    other_street_grid = (
        Region.objects.filter(level=Level.GRID).exclude(path__startswith=patrol_team.region_path).first()
    )
    bad: list[tuple[dict[str, Any], str]] = [
        ({"ended_at": now - datetime.timedelta(hours=4)}, "ended_at"),
        ({"started_at": now - datetime.timedelta(hours=30)}, "ended_at"),
        ({"started_at": None}, "started_at"),
        ({"ended_at": now + datetime.timedelta(hours=3)}, "ended_at"),
        ({"participants": []}, "participants"),
        ({"participants": list(TeamMember.objects.filter(team=tdst)[:1])}, "participants"),
        ({"grids": [other_street_grid]}, "grids"),
        ({"route": {"type": "Polygon", "coordinates": []}}, "route"),
        ({"route": {"type": "LineString", "coordinates": [[500, 22]]}}, "route"),
        ({"route": {"type": "LineString", "coordinates": "x"}}, "route"),
        ({"notes": "x" * 4001}, "notes"),
    ]
    before = _count()
    for changes, field in bad:
        with pytest.raises(ValidationError) as exc:
            services.record_patrol(
                actor=users["street_centre_1"], team=patrol_team, **_patrol_values(patrol_team, **changes)
            )
        assert field in exc.value.message_dict, (changes, exc.value.message_dict)
    with pytest.raises(PermissionDenied):
        services.record_patrol(actor=users["street_centre_2"], team=patrol_team, **_patrol_values(patrol_team))
    assert _count() == before


def test_report_finding_as_case(patrol_team, users):
    patrol = PatrolRecord.objects.filter(team=patrol_team)[0]
    category = Category.objects.get(code="hazard")
    finding = services.report_finding(
        actor=users["street_centre_1"],
        patrol=patrol,
        category=category,
        description="楼道堵塞消防通道",
        extra={"hazard_type": category.extra_fields[0]["values"][0]["key"]},
    )
    case = finding.case
    assert case.channel == Channel.GRID and case.filed_by == users["street_centre_1"]
    assert case.community is not None and case.region_path.startswith(patrol_team.region_path)
    assert AuditEvent.objects.filter(action="teams.finding_report").exists()


def test_report_finding_bad_input_writes_nothing(patrol_team, users):
    patrol = PatrolRecord.objects.filter(team=patrol_team)[0]
    category = Category.objects.get(code="hazard")
    cases = Case.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.report_finding(actor=users["street_centre_1"], patrol=patrol, category=category, description=" ")
    assert "description" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.report_finding(actor=users["street_centre_2"], patrol=patrol, category=category, description="x")
    assert Case.objects.count() == cases and not PatrolFinding.objects.exists()


def test_team_kinds(tdst, patrol_team):
    assert tdst.kind == UnitKind.MEDIATION_TEAM and patrol_team.kind == UnitKind.VOLUNTEER_TEAM
