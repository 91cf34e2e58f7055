"""Units (governance centres, departments, police stations and teams,
mediation and volunteer teams), each attached to a region node, and grid
responsibility (grid leader, grid worker, liaison, community police officer)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class UnitKind(models.TextChoices):
    CENTRE = "centre", _("Comprehensive governance centre")
    DEPARTMENT = "department", _("District department")
    POLICE_STATION = "police_station", _("Police station")
    POLICE_TEAM = "police_team", _("Police team")
    COURT = "court", _("Court")
    MEDIATION_TEAM = "mediation_team", _("Mediation team")
    VOLUNTEER_TEAM = "volunteer_team", _("Volunteer team")
    OTHER = "other", _("Other")


class Unit(models.Model):
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=UnitKind.choices)
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="units"
    )
    parent = models.ForeignKey(
        "self", verbose_name=_("parent unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    region_path = models.CharField(max_length=15, editable=False, db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", unit="pk")

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["region_path", "kind", "name"]
        indexes = [models.Index(fields=["region_path"], name="unit_region_path_idx")]

    def __str__(self) -> str:
        return self.name


class GridRole(models.TextChoices):
    GRID_LEADER = "grid_leader", _("Grid leader (网格长)")
    GRID_WORKER = "grid_worker", _("Grid worker (网格员)")
    LIAISON = "liaison", _("Liaison (联络员)")
    COMMUNITY_POLICE = "community_police", _("Community police officer (社区民警)")


class GridAssignment(models.Model):
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("person"), on_delete=models.PROTECT, related_name="grid_assignments"
    )
    role = models.CharField(_("responsibility"), max_length=20, choices=GridRole.choices)
    region_path = models.CharField(max_length=15, editable=False, db_index=True)
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("until"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", owner="user")

    class Meta:
        verbose_name = _("grid responsibility")
        verbose_name_plural = _("grid responsibilities")
        ordering = ["region_path", "role"]

    def __str__(self) -> str:
        return f"{self.grid} · {self.get_role_display()} · {self.user}"
