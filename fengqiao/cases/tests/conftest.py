"""A demo district (small) for case tests: real units, centres, grids and role holders."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import translation

from fengqiao.accounts.models import User
from fengqiao.cases.categories import ensure_default_categories
from fengqiao.cases.models import Category


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def district(db):
    call_command("load_demo_district", residents_per_grid=0, cases=0, extras=False, verbosity=0)
    ensure_default_categories()
    from fengqiao.workdays.services import seed_from_chinese_calendar

    seed_from_chinese_calendar()


@pytest.fixture
def users(district):
    names = [
        "street_centre_1",
        "street_leader_1",
        "district_centre",
        "community_1",
        "grid_worker_1",
        "dept_housing",
        "street_centre_2",
        "leader",
    ]
    return {name: User.objects.get(username=name) for name in names}


@pytest.fixture
def category(district):
    return Category.objects.get(code="environment")
