"""Open311 tests: the intake test place (one street centre, one community with two grids), a key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation

from fengqiao.intake.tests.factories import Place, place
from fengqiao.open311 import services


@pytest.fixture(autouse=True)
def english(settings: Any) -> Iterator[None]:
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def where(db: Any) -> Place:
    return place()


@pytest.fixture
def key(where: Place) -> str:
    _client, raw = services.issue_key(name="Test app", requests_per_minute=0, actor=None)
    return raw


#: a point inside the first grid of the test community
LAT, LNG = "22.405", "113.805"
