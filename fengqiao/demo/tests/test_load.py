"""Loading the demo district into the database (at a small size)."""

from __future__ import annotations

import itertools
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from stdnum.cn import ric

from fengqiao.accounts.models import Role, User
from fengqiao.accounts.roles import BUILTIN_ROLES
from fengqiao.audit.models import AuditEvent
from fengqiao.core.validators import validate_resident_id
from fengqiao.demo import loader
from fengqiao.demo.generator import DEFAULT_SEED, DEMO_PASSWORD, DISTRICT_PATH, build_plan
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import GridAssignment, GridRole, Unit

pytestmark = pytest.mark.django_db


def _shape(region: Region) -> BaseGeometry:
    assert region.boundary is not None, region
    return shape(region.boundary)


def _load(per_grid: int = 2, *args: str) -> str:
    out = StringIO()
    call_command("load_demo_district", "--residents-per-grid", str(per_grid), *args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "regions": Region.objects.count(),
        "units": Unit.objects.count(),
        "users": User.objects.count(),
        "roles": User.roles.through.objects.count(),
        "assignments": GridAssignment.objects.count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
    }


def test_load_counts_hierarchy_roles_and_is_idempotent():
    output = _load(2)
    plan = build_plan(DEFAULT_SEED, 2)
    district = Region.objects.get(path=DISTRICT_PATH)
    assert district.code == "440399000000"
    assert district.name == "枫桥示范区"
    assert Region.objects.filter(level=Level.STREET, path__under=DISTRICT_PATH).count() == 6
    assert Region.objects.filter(level=Level.COMMUNITY, path__under=DISTRICT_PATH).count() == 20
    grids = list(Region.objects.filter(level=Level.GRID, path__under=DISTRICT_PATH).select_related("parent"))
    assert len(grids) == 100
    assert Resident.objects.count() == 200
    assert Household.objects.count() == len(plan.households)
    assert User.objects.count() == len(plan.staff)

    # codes follow the hierarchy: 12 digits (15 for a grid) extending the parent's path
    for region in Region.objects.filter(path__under=DISTRICT_PATH).select_related("parent"):
        assert len(region.code) == (15 if region.level == Level.GRID else 12)
        assert region.code.startswith(region.path)
        assert region.parent is not None and region.path.startswith(region.parent.path)
        assert region.boundary is not None and region.centroid_lng is not None

    # grids do not overlap and lie inside their community
    polygons = {g.pk: _shape(g) for g in grids}
    for a, b in itertools.combinations(grids, 2):
        assert polygons[a.pk].intersection(polygons[b.pk]).area == 0
    for grid in grids:
        assert grid.parent is not None and _shape(grid.parent).covers(polygons[grid.pk])

    # every built-in role has a user, who can log in with the demo password
    for spec in BUILTIN_ROLES:
        user = User.objects.filter(roles__code=spec.code).order_by("username").first()
        assert user is not None, spec.code
        assert user.unit is not None and user.unit.region_path.startswith(DISTRICT_PATH)
    assert authenticate(username="grid_worker_1", password=DEMO_PASSWORD) is not None
    assert Role.objects.get(code="grid_worker").users.filter(username="grid_worker_1").exists()

    # every grid has a leader, a worker, a liaison and a community police officer
    for grid in grids:
        roles = set(GridAssignment.objects.filter(grid=grid).values_list("role", flat=True))
        assert roles == set(GridRole.values)
    worker = User.objects.get(username="grid_worker_1")
    assert worker.get_grants("registry.view_resident")[0].grid_paths  # the grid scope resolves
    assert Resident.objects.restrict(worker, "view").count() >= 2

    # one summary audit event
    events = AuditEvent.objects.filter(action="demo.load")
    assert events.count() == 1
    detail = events.get().detail
    assert detail is not None and detail["created"]["residents"] == 200

    # the logins table
    assert "grid_worker_1" in output and "admin" in output and DEMO_PASSWORD in output

    before = _counts()
    second = _load(2)
    assert _counts() == before
    assert AuditEvent.objects.filter(action="demo.load").count() == 2
    assert "admin" in second


def test_resident_ids_pass_stdnum_and_data_is_encrypted():
    _load(2)
    for resident in Resident.objects.all():
        assert resident.id_number_masked and "*" in resident.id_number_masked
        number = resident.id_number.plaintext()
        assert ric.validate(number) == number
        check = validate_resident_id(number)
        assert check.warnings == []
        assert check.gender == resident.gender
        assert check.birth_date == resident.birth_date
        household = resident.household
        assert household is not None and household.grid_id == resident.grid_id
        assert household.lng is not None and household.lat is not None
        assert _shape(resident.grid).contains(Point(household.lng, household.lat))


def test_loaded_grids_are_kept_and_reset_rebuilds():
    _load(1)
    assert Resident.objects.count() == 100
    output = _load(2)  # another size without --reset: the loaded grids stay as they are
    assert Resident.objects.count() == 100
    assert "--reset" in output
    _load(2, "--reset")
    assert Resident.objects.count() == 200
    assert Region.objects.filter(path__under=DISTRICT_PATH).count() == 127
    latest = AuditEvent.objects.filter(action="demo.load").order_by("-id").first()
    assert latest is not None and latest.detail is not None
    assert latest.detail["reset"] is True
    assert latest.detail["wiped"]["registry.Resident"] >= 100


def test_reset_keeps_other_districts():
    _load(1)
    other = Region.objects.create(
        code="440305000000", name="南山区", level=Level.COUNTY, path="440305", parent=Region.objects.get(path="4403")
    )
    loader.wipe_demo_data()
    assert not Region.objects.filter(path__under=DISTRICT_PATH).exists()
    assert not User.objects.filter(username="admin").exists()
    assert Region.objects.filter(pk=other.pk).exists()
    assert AuditEvent.objects.filter(action="demo.load").exists()  # the audit log is never wiped


def test_negative_size_is_refused():
    with pytest.raises(CommandError, match="--residents-per-grid"):
        call_command("load_demo_district", "--residents-per-grid", "-1", stdout=StringIO())
    assert not Region.objects.filter(path__under=DISTRICT_PATH).exists()
