"""The working-day calendar: one row per date, one row per year.

A ``CalendarDay`` says whether a date is a working day and why (ordinary
weekday, weekend, statutory holiday, make-up working day 调休). Rows come from
the ``chinese_calendar`` package ("seed") or from an administrator
("manual"); seeding never overwrites a manual row. A ``CalendarYear`` is
"complete" once its days are known (the State Council's notice is in the
table); for a year that is not complete the deadline arithmetic uses the
rows that exist and Monday to Friday for the other days, and reports the
year as missing (``fengqiao.workdays.deadlines.missing_years``).

``CalendarYear.version`` changes with every change to the year's days: the
per-process caches of the deadline arithmetic compare it to notice changes
made by other processes.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec

#: the calendar is platform-wide reference data: whoever has the permission sees every row
SHARED = ScopeSpec(region_path=None, shared=True)


class DayKind(models.TextChoices):
    WORKDAY = "workday", _("Working day")
    WEEKEND = "weekend", _("Weekend")
    HOLIDAY = "holiday", _("Holiday")
    MAKEUP_WORKDAY = "makeup_workday", _("Make-up working day")


class Source(models.TextChoices):
    SEED = "seed", _("Official calendar (chinese_calendar)")
    MANUAL = "manual", _("Entered by an administrator")


class CalendarDay(models.Model):
    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    kind = models.CharField(_("kind"), max_length=20, choices=DayKind.choices)
    name = models.CharField(_("holiday name"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = SHARED

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return self.date.isoformat()


class CalendarYear(models.Model):
    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    complete = models.BooleanField(_("complete"), default=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    note = models.CharField(_("note"), max_length=200, blank=True)
    version = models.UUIDField(default=uuid.uuid4, editable=False)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = SHARED

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)
