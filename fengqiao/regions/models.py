"""The region tree: province → prefecture → county/district → street → community → grid.

Codes follow GB/T 2260 and the statistical division codes: a 12-digit code
(6 county + 3 street/town + 3 community/village); a grid adds a 3-digit
suffix (15 digits, as GB/T 30428). ``path`` is the significant prefix of the
code for the node's level (2, 4, 6, 9, 12 or 15 digits), so "this node and
everything below" is ``path LIKE '<path>%'``, an indexed prefix query.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class Level(models.IntegerChoices):
    PROVINCE = 1, _("Province")
    PREFECTURE = 2, _("Prefecture")
    COUNTY = 3, _("District / county")
    STREET = 4, _("Street / town")
    COMMUNITY = 5, _("Community / village")
    GRID = 6, _("Grid")


#: digits of the code that are significant at each level
PATH_WIDTH = {
    Level.PROVINCE: 2,
    Level.PREFECTURE: 4,
    Level.COUNTY: 6,
    Level.STREET: 9,
    Level.COMMUNITY: 12,
    Level.GRID: 15,
}


class RegionQuerySet(RestrictedQuerySet["Region"]):
    def current(self, on: Any = None) -> RegionQuerySet:
        from django.utils import timezone

        day = on or timezone.localdate()
        return self.filter(Q(valid_from__lte=day) | Q(valid_from__isnull=True)).filter(
            Q(valid_to__gt=day) | Q(valid_to__isnull=True)
        )

    def subtree(self, path: str) -> RegionQuerySet:
        return self.filter(path__under=path)


class Region(models.Model):
    code = models.CharField(_("code"), max_length=15)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("path"), max_length=15, editable=False)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid until"), null=True, blank=True)
    successor_codes = models.CharField(_("successor codes"), max_length=200, blank=True)
    boundary = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    centroid_lng = models.FloatField(null=True, blank=True, editable=False)
    centroid_lat = models.FloatField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegionQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="path")

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="region_code_valid_from_unique"),
            models.UniqueConstraint(
                fields=["path"], condition=Q(valid_to__isnull=True), name="region_current_path_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["path"], name="region_path_idx"),
            models.Index(fields=["level", "path"], name="region_level_path_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_current(self) -> bool:
        return self.valid_to is None
