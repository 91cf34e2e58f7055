"""The demo district (no residents, no sample cases) with a few households made here."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.utils import translation

from fengqiao.accounts.models import User
from fengqiao.cases.categories import ensure_default_categories
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household
from fengqiao.units.models import GridAssignment, GridRole

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def district(db):
    call_command("load_demo_district", residents_per_grid=0, cases=0, verbosity=0)
    ensure_default_categories()
    from fengqiao.workdays.services import seed_from_chinese_calendar

    seed_from_chinese_calendar()


@pytest.fixture
def worker(district):
    return User.objects.get(username="grid_worker_1")


def _grid_of(user) -> Region:
    assignment = (
        GridAssignment.objects.filter(user=user, role=GridRole.GRID_WORKER, valid_to__isnull=True)
        .select_related("grid")
        .order_by("region_path")
        .first()
    )
    assert assignment is not None
    return assignment.grid


@pytest.fixture
def grid(worker):
    return _grid_of(worker)


@pytest.fixture
def other_grid(grid):
    """A grid of another community, with a boundary, that grid_worker_1 is not responsible for."""
    return (
        Region.objects.filter(level=Level.GRID, boundary__isnull=False)
        .exclude(parent=grid.parent)
        .order_by("path")
        .first()
    )


def make_household(grid: Region, *, located: bool = True) -> Household:
    n = next(_numbers)
    return Household.objects.create(
        number=f"T{grid.path[-6:]}{n:04d}",
        grid=grid,
        region_path=grid.path,
        address=f"测试路{n}号",
        lng=grid.centroid_lng if located else None,
        lat=grid.centroid_lat if located else None,
    )


@pytest.fixture
def household(grid):
    return make_household(grid)


@pytest.fixture
def other_household(other_grid):
    return make_household(other_grid)


RED = {
    "emotional": "severe",
    "domestic_violence": "suspected",
    "neighbour": "minor",
    "police_calls": "one_two",
}
GREEN = {"emotional": "none", "domestic_violence": "none", "neighbour": "none", "police_calls": "none"}
ORANGE = {"emotional": "frequent", "domestic_violence": "threats", "neighbour": "minor", "police_calls": "none"}
