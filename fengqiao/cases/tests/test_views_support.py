"""Helpers shared by the staff page tests (test_views*, test_import*, test_duty*).

The users and categories come from the demo district of ``conftest.py``
(``users``, ``category``); cases are filed through the real service.

``district`` here replaces the conftest fixture of the same name for the modules
that import it: the demo district is loaded once per module inside an outer
transaction (each test then runs in a savepoint that is rolled back, as usual)
and rolled back at the end of the module. Loading it for every test took most
of the time of these tests.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from PIL import Image

from fengqiao.accounts.models import User
from fengqiao.cases import services
from fengqiao.cases.models import Case, Category
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import GridAssignment

PASSWORD = "pw-view-tests-1"


@pytest.fixture(scope="module")
def _district_for_module(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    from fengqiao.cases.categories import ensure_default_categories
    from fengqiao.workdays.services import seed_from_chinese_calendar

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("load_demo_district", residents_per_grid=0, cases=0, extras=False, verbosity=0)
            ensure_default_categories()
            seed_from_chinese_calendar()
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            cache.clear()


@pytest.fixture
def district(_district_for_module: None, db: None) -> None:
    """The demo district (loaded once for the module, see the module docstring)."""


def client_for(user: User, language: str = "en") -> Client:
    """A logged-in client; the pages answer in English so the tests can read the messages."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def photo(name: str = "p.jpg", size: tuple[int, int] = (40, 30), fmt: str = "JPEG") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def street_grid(user: User) -> Region:
    """The first grid of the street of ``user``'s unit."""
    street = Region.objects.get(pk=user.unit.region_id)  # type: ignore[union-attr]
    grid = Region.objects.filter(level=Level.GRID, path__under=street.path).order_by("path").first()
    assert grid is not None
    return grid


def street_community(user: User) -> Region:
    community = street_grid(user).parent
    assert community is not None
    return community


def worker_grid(worker: User) -> Region:
    assignment = GridAssignment.objects.filter(user=worker).select_related("grid").order_by("id").first()
    assert assignment is not None
    return assignment.grid


def file_case(category: Category, grid: Region, **kw: Any) -> Case:
    kw.setdefault("description", "楼道里堆满了杂物，影响通行")
    kw.setdefault("channel", "qr")
    return services.submit_case(
        category=category, community=grid.parent, lng=grid.centroid_lng, lat=grid.centroid_lat, **kw
    )


def nobody() -> User:
    """An active staff user without any role."""
    return User.objects.create_user(username="nobody", password=PASSWORD)
