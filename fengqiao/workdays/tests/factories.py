"""Helpers for tests that need the working-day calendar (other apps may import these)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from fengqiao.workdays.services import seed_from_chinese_calendar


def seed_calendar(*years: int) -> None:
    """The official calendar of ``years`` (default 2025 and 2026) in the test database."""
    seed_from_chinese_calendar(years or (2025, 2026))


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An aware Asia/Shanghai datetime."""
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute), timezone.get_default_timezone())
