from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages_and_clean_cache() -> Iterator[None]:
    """Service messages are asserted in English (the msgids); pages pick their language per request."""
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()
