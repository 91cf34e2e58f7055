"""Readable names of the grid app's audit actions."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    "grid.visit.record": _("Record a household visit"),
    "grid.assessment.record": _("Record a household assessment"),
    "grid.tier.case_opened": _("Open a case for a household turning red"),
    "grid.model.new_version": _("Save a new version of the assessment model"),
    "grid.demo.load": _("Load demo visits and assessments"),
}
