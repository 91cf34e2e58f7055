"""The district grid map: scope of the GeoJSON endpoints, open/overdue counts per grid in one
grouped query, the grid panel, the optional households layer."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fengqiao.accounts.models import User
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import GridAssignment


@pytest.fixture
def district(db):
    call_command("load_demo_district", residents_per_grid=0, cases=0, verbosity=0)
    from fengqiao.cases.categories import ensure_default_categories
    from fengqiao.workdays.services import seed_from_chinese_calendar

    ensure_default_categories()
    seed_from_chinese_calendar()


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _street_path(username: str) -> str:
    unit = User.objects.get(username=username).unit
    assert unit is not None
    return unit.region_path


def _case_in(grid: Region, actor: User):
    from fengqiao.cases.models import Category, Channel
    from fengqiao.cases.services import submit_case

    category = Category.objects.get(code="environment")
    return submit_case(
        category=category,
        description="垃圾清运不及时",
        channel=Channel.WALK_IN,
        actor=actor,
        lng=grid.centroid_lng,
        lat=grid.centroid_lat,
    )


def test_map_page_and_grids_in_scope_with_open_cases(district):
    client = _client("street_centre_1")
    page = client.get(reverse("regions:grid_map"))
    assert page.status_code == 200
    assert "leaflet.js" in page.content.decode() and "grid-map-labels" in page.content.decode()
    street = _street_path("street_centre_1")
    grid = Region.objects.filter(level=Level.GRID, path__startswith=street).order_by("path")[1]
    case = _case_in(grid, User.objects.get(username="street_centre_1"))
    assert case.grid_id == grid.pk
    data = client.get(reverse("regions:grid_map_grids")).json()
    codes = {f["properties"]["code"] for f in data["features"]}
    assert codes and all(code.startswith(street) for code in codes)
    assert codes == set(Region.objects.filter(level=Level.GRID, path__startswith=street).values_list("code", flat=True))
    by_id = {f["properties"]["id"]: f["properties"] for f in data["features"]}
    assert by_id[grid.pk]["open"] == 1 and by_id[grid.pk]["overdue"] == 0
    assert sum(p["open"] for p in by_id.values()) == 1


def test_grid_counts_are_one_grouped_query(district):
    small, wide = _client("street_centre_1"), _client("district_centre")
    small.get(reverse("regions:grid_map_grids"))  # warm up sessions and permission caches
    wide.get(reverse("regions:grid_map_grids"))
    with CaptureQueriesContext(connection) as few:
        small.get(reverse("regions:grid_map_grids"))
    with CaptureQueriesContext(connection) as many:
        n = len(wide.get(reverse("regions:grid_map_grids")).json()["features"])
    assert n == Region.objects.filter(level=Level.GRID).count()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert sum("cases_case" in q["sql"] for q in many.captured_queries) == 1


def test_areas_and_within(district):
    client = _client("district_centre")
    areas = client.get(reverse("regions:grid_map_areas")).json()["features"]
    assert {f["properties"]["level"] for f in areas} == {Level.STREET, Level.COMMUNITY}
    community = Region.objects.filter(level=Level.COMMUNITY).order_by("path")[0]
    grids = client.get(reverse("regions:grid_map_grids"), {"within": community.pk}).json()["features"]
    assert grids and all(f["properties"]["code"].startswith(community.path) for f in grids)
    assert client.get(reverse("regions:grid_map"), {"within": community.pk}).status_code == 200


def test_out_of_scope_is_404(district):
    client = _client("street_centre_1")
    other = Region.objects.filter(level=Level.GRID).exclude(path__startswith=_street_path("street_centre_1"))[0]
    assert client.get(reverse("regions:grid_map_panel", args=[other.pk])).status_code == 404
    assert client.get(reverse("regions:grid_map_grids"), {"within": str(other.parent_id)}).status_code == 404
    assert client.get(reverse("regions:grid_map_grids"), {"within": "x"}).status_code == 404
    anonymous = Client().get(reverse("regions:grid_map_grids"))
    assert anonymous.status_code == 302


def test_grid_worker_sees_own_grids_only(district):
    worker = User.objects.get(username="grid_worker_1")
    mine = set(GridAssignment.objects.filter(user=worker, valid_to__isnull=True).values_list("grid__code", flat=True))
    data = _client("grid_worker_1").get(reverse("regions:grid_map_grids")).json()
    assert {f["properties"]["code"] for f in data["features"]} == mine


def test_panel_lists_workers_and_cases(district):
    centre = User.objects.get(username="street_centre_1")
    grid = Region.objects.filter(level=Level.GRID, path__startswith=_street_path("street_centre_1")).order_by("path")[0]
    case = _case_in(grid, centre)
    body = _client("street_centre_1").get(reverse("regions:grid_map_panel", args=[grid.pk])).content.decode()
    assert grid.name in body and case.number in body
    worker = GridAssignment.objects.filter(grid=grid, role="grid_worker")[0].user
    assert str(worker) in body
    assert grid.parent is not None and f"region={grid.parent.path}" in body
    community = Region.objects.filter(level=Level.COMMUNITY)[0]
    assert _client("street_centre_1").get(reverse("regions:grid_map_panel", args=[community.pk])).status_code == 404


def test_households_layer_when_available(district):
    from fengqiao.regions.views import _household_tiers

    url = reverse("regions:grid_map_households")
    if _household_tiers() is None:
        assert _client("street_centre_1").get(url).status_code == 404
        return
    user = User.objects.get(username="street_centre_1")
    response = _client("street_centre_1").get(url)
    if user.has_perm("grid.view_householdtier"):
        assert response.status_code == 200 and response.json()["type"] == "FeatureCollection"
    else:
        assert response.status_code == 404
    assert _client("dept_housing").get(url).status_code in (403, 404)
