"""The monthly rollup behind the figures page (maintained by ``fengqiao.cases.figures.refresh_rollup``).

One row per (month of receipt, community, handling unit, category, kind) with
the counts and sums of ``fengqiao.cases.figures`` as of ``computed_at``. The
figures page reads whole months from here and only partial months from the
cases themselves: over 1,000,000 cases a district's year is ~26,000 rows here
instead of ~300,000 cases (see ``bench/cases_figures.py``).

Imported by ``fengqiao.cases.models`` so that Django registers it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseFigureMonth(models.Model):
    month = models.DateField(_("month"))  # the first day of the month (local time)
    community_path = models.CharField(max_length=15)  # the first 12 digits of the cases' region path
    unit = models.ForeignKey(
        "units.Unit", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    category = models.ForeignKey("cases.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    kind = models.CharField(max_length=10)
    received = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    closed_on_time = models.PositiveIntegerField(default=0)
    open_overdue = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    disputes_closed = models.PositiveIntegerField(default=0)
    disputes_resolved = models.PositiveIntegerField(default=0)
    handled = models.PositiveIntegerField(default=0)
    handling_seconds = models.FloatField(default=0)
    handling_workdays = models.IntegerField(default=0)
    first_response_on_time = models.PositiveIntegerField(default=0)
    first_response_due = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("monthly case figures")
        verbose_name_plural = _("monthly case figures")
        indexes = [models.Index(fields=["month", "community_path"], name="casefig_month_path_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.community_path} {self.category_id}"


class CaseFigureRefresh(models.Model):
    """When the rollup was last brought up to date (one row): cases changed since then are counted live."""

    key = models.CharField(max_length=20, unique=True, default="default")
    watermark = models.DateTimeField()
    full_at = models.DateTimeField(null=True, blank=True)  # the last complete rebuild

    class Meta:
        verbose_name = _("case figures refresh")
        verbose_name_plural = _("case figures refreshes")

    def __str__(self) -> str:
        return f"{self.key}: {self.watermark:%Y-%m-%d %H:%M:%S}"
