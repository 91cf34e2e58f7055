"""Deadline rules for cases, on top of the working-day calendar (fengqiao.workdays).

- Reports and service requests: first response within ``case.first_response_days``
  working days (default 1); resolution within 3 working days (simple), 7
  (general), or the date set at triage (complex). The seed: 简单事项3日内,
  一般事项7日内, 复杂事项研判确定完成期限.
- Petitions (信访工作条例): a decision on acceptance within 15 days of receipt;
  handling within 60 days of acceptance; one extension of at most 30 days.
  These are calendar days.
- Suspension stops the resolution clock: on resume the deadline moves by the
  working days spent suspended (``suspended_days``); an approved extension
  adds ``extension_days``.

``recompute(case)`` derives both deadlines from the case's fields alone, so a
calendar edit or a category change just recomputes open cases.
"""

from __future__ import annotations

import datetime
from typing import Any

from fengqiao.system.selectors import get_parameter
from fengqiao.workdays import deadlines as wd

from .models import Case, CaseKind, Complexity

DEFAULT_DAYS: dict[str, int] = {Complexity.SIMPLE: 3, Complexity.GENERAL: 7, Complexity.COMPLEX: 15}
PETITION_ACCEPT_DAYS = 15
PETITION_HANDLE_DAYS = 60
PETITION_MAX_EXTENSION_DAYS = 30


def resolution_days(complexity: str) -> int:
    configured: Any = get_parameter("case.deadline_days", None)
    if isinstance(configured, dict) and isinstance(configured.get(complexity), int):
        return int(configured[complexity])
    return DEFAULT_DAYS.get(complexity, DEFAULT_DAYS[Complexity.GENERAL])


def first_response_days() -> int:
    value: Any = get_parameter("case.first_response_days", 1)
    return int(value) if isinstance(value, int) and value > 0 else 1


def recompute(case: Case, *, calendar: wd.Calendar | None = None) -> None:
    """Set ``first_response_due`` and ``resolution_due`` from the case's own fields.

    ``calendar``: a snapshot shared by a batch (one read of the calendar's versions for all of it).
    """
    cal = calendar if calendar is not None else wd.Calendar()
    received = case.received_at
    start = case.clock_started_at or received
    if case.kind == CaseKind.PETITION:
        case.first_response_due = wd.add_calendar_days(received, PETITION_ACCEPT_DAYS, calendar=cal)
        base = wd.add_calendar_days(start, PETITION_HANDLE_DAYS + case.extension_days, calendar=cal)
    else:
        case.first_response_due = wd.add_working_days(received, first_response_days(), calendar=cal)
        if case.complexity == Complexity.COMPLEX and case.due_override is not None:
            base = case.due_override
            if case.extension_days:
                base = wd.add_working_days(base, case.extension_days, calendar=cal)
        else:
            base = wd.add_working_days(start, resolution_days(case.complexity) + case.extension_days, calendar=cal)
    if case.suspended_days:
        base = wd.add_working_days(base, case.suspended_days, calendar=cal)
    case.resolution_due = base


def suspended_working_days(since: datetime.datetime, until: datetime.datetime) -> int:
    return max(0, wd.working_days_between(since, until))
