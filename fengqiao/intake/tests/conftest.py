"""Intake tests run in English (the Chinese catalogue has its own test) with empty rate-limit counters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation

from fengqiao.intake.selectors import clear_public_cache

from .factories import Place, place


@pytest.fixture(autouse=True)
def english(settings: Any) -> Iterator[None]:
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    clear_public_cache()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def where(db: Any) -> Place:
    return place()
