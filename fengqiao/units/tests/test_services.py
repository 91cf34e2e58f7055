from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.regions.models import Level
from fengqiao.regions.tests.factories import region, square, staff, tree
from fengqiao.units import services
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

from .factories import unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def t():
    regions = tree()
    regions["grid"] = region(
        "440305001001001", "第一网格", Level.GRID, regions["community"], boundary=square(113.94, 22.54)
    )
    regions["district_centre"] = unit("C-440305", "南山区综治中心", regions["county"])
    regions["street_centre"] = unit(
        "C-440305001", "粤海街道综治中心", regions["street"], parent=regions["district_centre"]
    )
    return regions


@pytest.fixture
def admin():
    return staff("admin", [], superuser=True)


def test_create_unit_copies_region_path_and_audits(t, admin):
    u = services.create_unit(
        actor=admin,
        name="科技园社区综治中心",
        code="C-440305001001",
        kind=UnitKind.CENTRE,
        region=t["community"],
        parent=t["street_centre"],
    )
    assert u.region_path == "440305001001"
    after = AuditEvent.objects.get(action="unit.create").after
    assert after is not None and after["region_path"] == "440305001001"


def test_parent_unit_must_be_same_or_higher_region(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.create_unit(
            actor=admin,
            name="区局",
            code="D-1",
            kind=UnitKind.DEPARTMENT,
            region=t["county"],
            parent=t["street_centre"],
        )
    assert "parent" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_unit(
            actor=admin, name="沙河", code="D-2", kind=UnitKind.CENTRE, region=t["street2"], parent=t["street_centre"]
        )
    assert "parent" in exc.value.message_dict
    same = services.create_unit(
        actor=admin,
        name="同级",
        code="D-3",
        kind=UnitKind.MEDIATION_TEAM,
        region=t["street"],
        parent=t["street_centre"],
    )
    assert same.parent == t["street_centre"]
    assert Unit.objects.count() == 3


def test_unit_code_unique_and_required_fields(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.create_unit(actor=admin, name="", code="C-440305", kind="nope", region=t["county"])
    assert set(exc.value.message_dict) == {"name", "code", "kind"}


def test_unit_in_retired_region_refused(t, admin):
    t["street2"].valid_to = datetime.date(2020, 1, 1)
    t["street2"].save()
    with pytest.raises(ValidationError) as exc:
        services.create_unit(actor=admin, name="x", code="X", kind=UnitKind.CENTRE, region=t["street2"])
    assert "region" in exc.value.message_dict


def test_update_unit_region_recomputes_path_and_guards_children(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.update_unit(actor=admin, unit=t["district_centre"], region=t["street2"])
    assert "Sub-units" in exc.value.message_dict["region"][0]
    u = services.update_unit(actor=admin, unit=t["street_centre"], name="粤海街道综治中心(新)", phone="0755-1")
    assert u.name.endswith("(新)") and u.region_path == "440305001"
    event = AuditEvent.objects.get(action="unit.update")
    assert event.before is not None and event.after is not None
    assert event.before["name"] == "粤海街道综治中心" and event.after["phone"] == "0755-1"


def test_unit_cannot_be_its_own_ancestor(t, admin):
    with pytest.raises(ValidationError) as exc:
        services.update_unit(actor=admin, unit=t["district_centre"], parent=t["street_centre"])
    assert "parent" in exc.value.message_dict


def test_deactivate_unit(t, admin):
    with pytest.raises(ValidationError):
        services.deactivate_unit(actor=admin, unit=t["district_centre"])  # has an active sub-unit
    services.deactivate_unit(actor=admin, unit=t["street_centre"])
    t["street_centre"].refresh_from_db()
    assert not t["street_centre"].is_active
    with pytest.raises(ValidationError):
        services.create_unit(
            actor=admin, name="x", code="X", kind=UnitKind.CENTRE, region=t["community"], parent=t["street_centre"]
        )
    services.reactivate_unit(actor=admin, unit=t["street_centre"])
    assert AuditEvent.objects.filter(action__in=["unit.deactivate", "unit.reactivate"]).count() == 2


# --- grid responsibility ---------------------------------------------------------


@pytest.fixture
def worker(t):
    return staff("worker", [], unit=t["street_centre"])


def test_assign_grid_and_end(t, admin, worker):
    a = services.assign_grid(actor=admin, grid=t["grid"], user=worker, role=GridRole.GRID_WORKER)
    assert a.region_path == "440305001001001"
    assert a.valid_from == timezone.localdate()
    services.end_assignment(actor=admin, assignment=a, valid_to=timezone.localdate())
    a.refresh_from_db()
    assert a.valid_to == timezone.localdate()
    assert [e.action for e in AuditEvent.objects.order_by("id")] == ["grid_assignment.create", "grid_assignment.end"]


def test_assign_only_to_grids(t, admin, worker):
    with pytest.raises(ValidationError) as exc:
        services.assign_grid(actor=admin, grid=t["community"], user=worker, role=GridRole.GRID_WORKER)
    assert "not a grid" in exc.value.message_dict["grid"][0]


def test_user_without_unit_refused(t, admin):
    loner = staff("loner", [])
    with pytest.raises(ValidationError) as exc:
        services.assign_grid(actor=admin, grid=t["grid"], user=loner, role=GridRole.GRID_WORKER)
    assert "no unit" in exc.value.message_dict["user"][0]
    assert not GridAssignment.objects.exists()


def test_one_current_grid_leader(t, admin, worker):
    other = staff("other", [], unit=t["street_centre"])
    first = services.assign_grid(
        actor=admin, grid=t["grid"], user=worker, role=GridRole.GRID_LEADER, valid_from=datetime.date(2024, 1, 1)
    )
    with pytest.raises(ValidationError) as exc:
        services.assign_grid(actor=admin, grid=t["grid"], user=other, role=GridRole.GRID_LEADER)
    assert "already has a grid leader" in exc.value.message_dict["role"][0]
    # several workers are fine, and so is a community police officer
    services.assign_grid(actor=admin, grid=t["grid"], user=other, role=GridRole.GRID_WORKER)
    police_station = unit("P-1", "南头派出所", t["county"], kind=UnitKind.POLICE_STATION)
    officer = staff("officer", [], unit=police_station)
    services.assign_grid(actor=admin, grid=t["grid"], user=officer, role=GridRole.COMMUNITY_POLICE)
    # after the first leader's assignment ends, a new leader can start
    services.end_assignment(actor=admin, assignment=first, valid_to=datetime.date(2024, 6, 1))
    services.assign_grid(
        actor=admin, grid=t["grid"], user=other, role=GridRole.GRID_LEADER, valid_from=datetime.date(2024, 6, 1)
    )
    assert GridAssignment.objects.filter(role=GridRole.GRID_LEADER).count() == 2


def test_same_person_same_role_twice_refused(t, admin, worker):
    services.assign_grid(actor=admin, grid=t["grid"], user=worker, role=GridRole.LIAISON)
    with pytest.raises(ValidationError) as exc:
        services.assign_grid(actor=admin, grid=t["grid"], user=worker, role=GridRole.LIAISON)
    assert "already" in exc.value.message_dict["user"][0]


def test_end_assignment_before_start_refused(t, admin, worker):
    a = services.assign_grid(
        actor=admin, grid=t["grid"], user=worker, role=GridRole.GRID_WORKER, valid_from=datetime.date(2024, 1, 1)
    )
    with pytest.raises(ValidationError):
        services.end_assignment(actor=admin, assignment=a, valid_to=datetime.date(2023, 1, 1))


def test_chinese_refusal(t, admin):
    from django.utils import translation

    loner = staff("loner", [])
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.assign_grid(actor=admin, grid=t["grid"], user=loner, role=GridRole.GRID_WORKER)
    assert "不属于任何单位" in exc.value.message_dict["user"][0]
