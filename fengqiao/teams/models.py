"""Mediation teams and volunteer patrol teams (调解队, 义警/群防群治队伍): their members and patrols.

A team is a ``Unit`` of kind ``mediation_team`` or ``volunteer_team`` (seed 000,
Yinchuan: "唐大叔" and "青山大姐" mediation groups, "北环卫士" volunteer police,
490 teams with 8,700 people). Cases are assigned to a team through the case
workflow like to any unit; this app adds who is in a team, its patrol records
(排查巡逻) and the findings of a patrol reported as cases.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.core.personal import BlindIndexField, EncryptedTextField, PersonalDataModel
from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec
from fengqiao.units.models import UnitKind

#: the unit kinds that are teams
TEAM_KINDS = (UnitKind.MEDIATION_TEAM, UnitKind.VOLUNTEER_TEAM)


class TeamRole(models.TextChoices):
    LEADER = "leader", _("Team leader")
    DEPUTY = "deputy", _("Deputy leader")
    MEMBER = "member", _("Member")


class TeamMember(PersonalDataModel):
    """A person in a team: often a resident volunteer (retired party member, 老党员), sometimes staff."""

    team = models.ForeignKey(
        "units.Unit", verbose_name=_("team"), on_delete=models.PROTECT, related_name="team_members"
    )
    region_path = models.CharField(max_length=15, editable=False)
    name = EncryptedTextField(pgettext_lazy("person", "name"), kind="name", searchable=True)
    name_masked = models.CharField(pgettext_lazy("person", "name"), max_length=50, blank=True, editable=False)
    name_index = BlindIndexField()
    phone = EncryptedTextField(_("phone"), kind="phone", searchable=True)
    phone_masked = models.CharField(_("phone"), max_length=32, blank=True, editable=False)
    phone_index = BlindIndexField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="team_memberships",
    )
    resident = models.ForeignKey(
        "registry.Resident",
        verbose_name=_("resident"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    role = models.CharField(_("role in the team"), max_length=10, choices=TeamRole.choices, default=TeamRole.MEMBER)
    since = models.DateField(_("member since"))
    until = models.DateField(_("member until"), null=True, blank=True)
    skills = models.CharField(_("skills"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", unit="team", owner="user")

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        ordering = ["team_id", "role", "id"]
        indexes = [models.Index(fields=["region_path", "id"], name="teammember_path_idx")]
        permissions = [("reveal_teammember", "Can reveal team members' personal data")]

    def __str__(self) -> str:
        return self.name_masked or f"#{self.pk}"

    def is_current(self, on: object = None) -> bool:
        from django.utils import timezone

        day = on or timezone.localdate()
        return self.since <= day and (self.until is None or self.until >= day)  # type: ignore[operator]


class PatrolRecord(models.Model):
    """One patrol (巡逻) of a team: when, where (grids, optionally a route), who, what was found."""

    team = models.ForeignKey("units.Unit", verbose_name=_("team"), on_delete=models.PROTECT, related_name="patrols")
    region_path = models.CharField(max_length=15, editable=False)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"))
    grids = models.ManyToManyField("regions.Region", verbose_name=_("grids"), blank=True, related_name="+")
    participants = models.ManyToManyField(TeamMember, verbose_name=_("participants"), related_name="patrols")
    route = models.JSONField(_("route (GeoJSON)"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    findings = models.TextField(_("findings"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", unit="team", owner="recorded_by")

    class Meta:
        verbose_name = _("patrol record")
        verbose_name_plural = _("patrol records")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["region_path", "-started_at"], name="patrol_path_started_idx"),
            models.Index(fields=["team", "-started_at"], name="patrol_team_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.started_at:%Y-%m-%d %H:%M}"


class PatrolFinding(models.Model):
    """A finding of a patrol that was reported into the closed loop as a case."""

    patrol = models.ForeignKey(PatrolRecord, on_delete=models.CASCADE, related_name="reported")
    # only a link: if a case is ever deleted (the demo reset), the link goes with it
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("patrol finding reported as a case")
        verbose_name_plural = _("patrol findings reported as cases")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case"], name="patrolfinding_case_unique")]

    def __str__(self) -> str:
        return f"{self.patrol_id} → {self.case_id}"
