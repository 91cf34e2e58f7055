"""Readable names of the audit actions of the working-day calendar (and of the deadline recomputation)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    "workdays.seed": _("Seeded the working-day calendar"),
    "workdays.day.change": _("Changed a day of the working-day calendar"),
    "workdays.year.complete": _("Marked a calendar year complete"),
    "workdays.year.reopen": _("Marked a calendar year not complete"),
    "workdays.export": _("Exported the working-day calendar"),
    "cases.deadlines.recompute": _("Recomputed case deadlines after a calendar change"),
}
