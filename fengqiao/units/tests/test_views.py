from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from fengqiao.regions.models import Level, Region
from fengqiao.regions.tests.factories import region, rows_of, square, staff, tree
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

from .factories import unit

pytestmark = pytest.mark.django_db

UNIT_PERMS = [
    "units.view_unit",
    "units.add_unit",
    "units.change_unit",
    "units.view_gridassignment",
    "units.add_gridassignment",
    "units.change_gridassignment",
    "regions.view_region",
]


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
    regions["street2_centre"] = unit(
        "C-440305002", "沙河街道综治中心", regions["street2"], parent=regions["district_centre"]
    )
    return regions


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def admin_client(t):
    return client_for(staff("clerk", UNIT_PERMS, scope="all", unit=t["district_centre"]))


@pytest.fixture
def street_client(t):
    return client_for(staff("s1", UNIT_PERMS, scope="unit_and_below", unit=t["street_centre"]))


def test_unit_list_filters_and_scope(t, admin_client, street_client):
    html = admin_client.get(reverse("units:list")).content.decode()
    assert "南山区综治中心" in html and "沙河街道综治中心" in html
    html = admin_client.get(reverse("units:list"), {"region": "440305002"}).content.decode()
    assert "沙河街道综治中心" in html and "粤海街道综治中心" not in html
    html = admin_client.get(reverse("units:list"), {"region": "粤海"}).content.decode()
    assert "粤海街道综治中心" in html and "沙河街道综治中心" not in html
    html = admin_client.get(reverse("units:list"), {"kind": UnitKind.POLICE_STATION}).content.decode()
    assert "综治中心</a>" not in html
    html = street_client.get(reverse("units:list")).content.decode()
    assert "粤海街道综治中心</a>" in html and "南山区综治中心</a>" not in html and "沙河街道综治中心" not in html
    assert street_client.get(reverse("units:detail", args=[t["street2_centre"].pk])).status_code == 404


def test_unit_export_scoped(t, street_client):
    response = street_client.get(reverse("units:export"))
    assert [r[0] for r in rows_of(response)] == ["C-440305001"]


def test_create_unit_via_form(t, street_client):
    url = reverse("units:create")
    assert street_client.get(url).status_code == 200
    response = street_client.post(
        url,
        {
            "name": "科技园社区综治中心",
            "code": "C-440305001001",
            "kind": UnitKind.CENTRE,
            "region": "440305001001",
            "parent": t["street_centre"].pk,
        },
    )
    assert response.status_code == 302
    created = Unit.objects.get(code="C-440305001001")
    assert created.region_path == "440305001001"


def test_create_unit_outside_scope_refused(t, street_client):
    response = street_client.post(
        reverse("units:create"),
        {"name": "越权", "code": "X-1", "kind": UnitKind.CENTRE, "region": "440305002000"},
    )
    assert response.status_code == 200
    assert "440305002000" in response.content.decode()
    assert not Unit.objects.filter(code="X-1").exists()


def test_edit_and_deactivate_unit(t, admin_client):
    url = reverse("units:edit", args=[t["street2_centre"].pk])
    response = admin_client.post(
        url,
        {
            "name": "沙河街道综治中心(新)",
            "code": "C-440305002",
            "kind": UnitKind.CENTRE,
            "region": "440305002000",
            "parent": t["district_centre"].pk,
            "phone": "0755-2",
        },
    )
    assert response.status_code == 302
    admin_client.post(reverse("units:set_active", args=[t["street2_centre"].pk]), {"active": "0"})
    t["street2_centre"].refresh_from_db()
    assert t["street2_centre"].name.endswith("(新)") and not t["street2_centre"].is_active


def test_assign_via_form_and_grid_page(t, admin_client):
    worker = staff("worker", [], unit=t["street_centre"])
    worker.display_name = "张网格"
    worker.save()
    url = reverse("units:assignment_create") + f"?grid={t['grid'].pk}"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"grid": t["grid"].pk, "user": worker.pk, "role": GridRole.GRID_LEADER, "valid_from": "2024-01-01"}
    )
    assert response.status_code == 302
    page = admin_client.get(reverse("regions:grid_detail", args=[t["grid"].pk])).content.decode()
    assert "张网格" in page and "粤海街道综治中心" in page
    # a second leader is refused with the reason on the form
    other = staff("other", [], unit=t["street_centre"])
    response = admin_client.post(
        url, {"grid": t["grid"].pk, "user": other.pk, "role": GridRole.GRID_LEADER, "valid_from": "2024-02-01"}
    )
    assert response.status_code == 200 and "张网格" in response.content.decode()
    assignment = GridAssignment.objects.get()
    response = admin_client.post(reverse("units:assignment_end", args=[assignment.pk]), {"valid_to": "2024-06-01"})
    assignment.refresh_from_db()
    assert str(assignment.valid_to) == "2024-06-01"


def test_assign_only_grids_in_scope(t, street_client):
    other_grid = Region.objects.create(
        code="440305002001001", name="外网格", level=Level.GRID, path="440305002001001", parent=t["street2"]
    )
    worker = staff("worker", [], unit=t["street_centre"])
    response = street_client.post(
        reverse("units:assignment_create"),
        {"grid": other_grid.pk, "user": worker.pk, "role": GridRole.GRID_WORKER, "valid_from": "2024-01-01"},
    )
    assert response.status_code == 200
    assert not GridAssignment.objects.exists()


def test_assignment_list_and_export(t, admin_client):
    from fengqiao.units import services

    worker = staff("worker", [], unit=t["street_centre"])
    services.assign_grid(actor=None, grid=t["grid"], user=worker, role=GridRole.GRID_WORKER)
    html = admin_client.get(reverse("units:assignment_list")).content.decode()
    assert "第一网格" in html
    response = admin_client.get(reverse("units:assignment_export"), {"grid": "440305001"})
    assert [r[0] for r in rows_of(response)] == ["440305001001001"]


def test_grid_worker_scope_sees_own_grid(t):
    from fengqiao.units import services

    worker = staff("gw", ["regions.view_region", "units.view_gridassignment"], scope="grids", unit=t["street_centre"])
    services.assign_grid(actor=None, grid=t["grid"], user=worker, role=GridRole.GRID_WORKER)
    c = client_for(worker)
    assert c.get(reverse("regions:grid_detail", args=[t["grid"].pk])).status_code == 200
    assert c.get(reverse("regions:detail", args=[t["community"].pk])).status_code == 404
    html = c.get(reverse("regions:tree")).content.decode()
    assert "第一网格" in html and "科技园社区" not in html


def test_assignment_export_is_restricted_by_scope(t):
    """沙河街道's clerk exports no responsibility for a grid of 粤海街道; 粤海街道's clerk does."""
    from fengqiao.units import services

    worker = staff("worker", [], unit=t["street_centre"])
    services.assign_grid(actor=None, grid=t["grid"], user=worker, role=GridRole.GRID_WORKER)
    other = client_for(staff("s2", UNIT_PERMS, scope="unit_and_below", unit=t["street2_centre"]))
    own = client_for(staff("s1b", UNIT_PERMS, scope="unit_and_below", unit=t["street_centre"]))
    assert rows_of(other.get(reverse("units:assignment_export"))) == []
    assert [r[0] for r in rows_of(own.get(reverse("units:assignment_export")))] == ["440305001001001"]
    no_perm = client_for(staff("np", ["units.view_unit"], scope="all", unit=t["street_centre"]))
    assert no_perm.get(reverse("units:assignment_export")).status_code == 403
    assert no_perm.get(reverse("units:export")).status_code == 200
    from fengqiao.audit.models import AuditEvent

    logged = AuditEvent.objects.filter(action="grid_assignment.export").order_by("pk")
    assert [(e.actor_name, e.detail["rows"]) for e in logged] == [("s2", 0), ("s1b", 1)]  # type: ignore[index]
    assert AuditEvent.objects.filter(action="unit.export", actor_name="np").exists()
