"""``calendar_changed``: sent (after the transaction commits) whenever days of the calendar change.

Keyword arguments: ``years`` (sorted list of the years touched) and ``dates``
(sorted list of the dates changed, or ``None`` when whole years were seeded or
completed). Receivers recompute what depends on the calendar (the case
deadlines: ``fengqiao.cases.sweeper.recompute_open_deadlines``).
"""

from __future__ import annotations

from django.dispatch import Signal

calendar_changed = Signal()
