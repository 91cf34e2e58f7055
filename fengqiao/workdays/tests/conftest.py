from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.utils import translation

from fengqiao.workdays.deadlines import invalidate


@pytest.fixture(autouse=True)
def _clean_calendar_cache() -> Iterator[None]:
    """Each test starts from its own database: forget the days cached by an earlier (rolled back) test."""
    invalidate()
    cache.clear()
    with translation.override("en"):
        yield
    invalidate()
    cache.clear()
