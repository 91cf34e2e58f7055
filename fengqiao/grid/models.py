"""Door-to-door visits (走访) and household colour tiers (家庭评估分色).

- ``AssessmentModel``: the configurable scoring model, versioned. Editing
  makes a new version; an ``Assessment`` keeps the version it was scored with,
  so its tier and reasons stay reproducible.
- ``Visit``: a grid worker's or community police officer's visit to a
  household, with the phone's location checked against the household's grid
  (``outside_grid`` flags a mismatch for the reviewer) and photos.
- ``Assessment``: the answers to the model's factors, the weighted score,
  the tier and the reasons (contributions) at the time.
- ``HouseholdTier``: the current tier of a household (one row each), with the
  time of the last follow-up; "overdue" is one indexed query over this table.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec

from . import scoring


class Tier(models.TextChoices):
    RED = scoring.RED, _("Red")
    ORANGE = scoring.ORANGE, _("Orange")
    YELLOW = scoring.YELLOW, _("Yellow")
    GREEN = scoring.GREEN, _("Green")


class AssessmentModel(models.Model):
    version = models.PositiveIntegerField(_("version"), unique=True)
    factors = models.JSONField(_("factors"), default=list)
    thresholds = models.JSONField(_("thresholds"), default=dict)
    follow_up_days = models.JSONField(_("follow-up interval (days) per tier"), default=dict)
    case_category_code = models.CharField(_("category of the case a red household opens"), max_length=50)
    note = models.CharField(_("what changed"), max_length=200, blank=True)
    is_current = models.BooleanField(_("current"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path=None, shared=True)

    class Meta:
        verbose_name = _("assessment model")
        verbose_name_plural = _("assessment models")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="grid_one_current_model")
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    def spec(self) -> scoring.ModelSpec:
        return scoring.spec_from_json(self.factors, self.thresholds, self.follow_up_days)


def visit_photo_path(instance: VisitPhoto, filename: str) -> str:
    return f"visits/{instance.visit.visited_at:%Y/%m}/{instance.visit_id}/{secrets.token_hex(8)}-{filename[-60:]}"


class Visit(models.Model):
    household = models.ForeignKey(
        "registry.Household", verbose_name=_("household"), on_delete=models.PROTECT, related_name="visits"
    )
    resident = models.ForeignKey(
        "registry.Resident",
        verbose_name=_("resident met"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
    )
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("visited by"), on_delete=models.PROTECT, related_name="+"
    )
    visited_at = models.DateTimeField(_("visited at"))
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    region_path = models.CharField(max_length=15, editable=False)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    located_grid = models.ForeignKey(
        "regions.Region",
        verbose_name=_("grid at the phone's location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    outside_grid = models.BooleanField(_("located outside the household's grid"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", owner="visitor")

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-id"]
        indexes = [
            models.Index(fields=["region_path", "visited_at"], name="visit_path_time_idx"),
            models.Index(fields=["household", "visited_at"], name="visit_household_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.household} · {self.visited_at:%Y-%m-%d}"


class VisitPhoto(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(_("file"), upload_to=visit_photo_path)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or self.file.name


class Assessment(models.Model):
    household = models.ForeignKey(
        "registry.Household", verbose_name=_("household"), on_delete=models.PROTECT, related_name="assessments"
    )
    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), null=True, blank=True, on_delete=models.PROTECT, related_name="assessments"
    )
    model = models.ForeignKey(
        AssessmentModel, verbose_name=_("model version"), on_delete=models.PROTECT, related_name="assessments"
    )
    answers = models.JSONField(_("answers"), default=dict)
    score = models.FloatField(_("score"))
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    reasons = models.JSONField(_("reasons"), default=list)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assessed by"), on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField(_("assessed at"))
    region_path = models.CharField(max_length=15, editable=False)
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case opened"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", owner="assessed_by")

    class Meta:
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        ordering = ["-assessed_at", "-id"]
        indexes = [models.Index(fields=["household", "assessed_at"], name="assessment_household_time_idx")]

    def __str__(self) -> str:
        return f"{self.household} · {self.get_tier_display()}"


class HouseholdTier(models.Model):
    """The current tier of a household and when it was last followed up (visited or assessed)."""

    household = models.OneToOneField(
        "registry.Household",
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        related_name="tier_state",
        primary_key=True,
    )
    region_path = models.CharField(max_length=15, editable=False)
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    score = models.FloatField(_("score"))
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="+")
    tier_since = models.DateTimeField(_("in this tier since"))
    last_followed_at = models.DateTimeField(_("last follow-up"))
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    class Meta:
        verbose_name = _("household tier")
        verbose_name_plural = _("household tiers")
        ordering = ["region_path", "household"]
        indexes = [
            models.Index(fields=["region_path", "tier"], name="tier_path_tier_idx"),
            models.Index(fields=["tier", "last_followed_at"], name="tier_followed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.tier}"

    @property
    def reasons(self) -> Any:
        return self.assessment.reasons
