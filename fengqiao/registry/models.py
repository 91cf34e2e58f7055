"""The registry of households and residents per grid (personal data encrypted)."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.core.personal import BlindIndexField, EncryptedTextField, PersonalDataModel
from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class Household(PersonalDataModel):
    number = models.CharField(_("household number"), max_length=32, unique=True)
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="households"
    )
    region_path = models.CharField(max_length=15, editable=False)
    address = models.CharField(_("address"), max_length=200)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["region_path", "number"]
        indexes = [models.Index(fields=["region_path", "id"], name="household_path_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.address}"


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    UNKNOWN = "", _("Unknown")


class Resident(PersonalDataModel):
    household = models.ForeignKey(
        Household, verbose_name=_("household"), null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="residents"
    )
    region_path = models.CharField(max_length=15, editable=False)
    name = EncryptedTextField(pgettext_lazy("person", "name"), kind="name", searchable=True)
    name_masked = models.CharField(pgettext_lazy("person", "name"), max_length=50, blank=True, editable=False)
    name_index = BlindIndexField()
    id_number = EncryptedTextField(_("ID number"), kind="id_number", searchable=True)
    id_number_masked = models.CharField(_("ID number"), max_length=32, blank=True, editable=False)
    id_number_index = BlindIndexField()
    phone = EncryptedTextField(_("phone"), kind="phone", searchable=True)
    phone_masked = models.CharField(_("phone"), max_length=32, blank=True, editable=False)
    phone_index = BlindIndexField()
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    relation = models.CharField(_("relation to head of household"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["region_path", "id"]
        indexes = [models.Index(fields=["region_path", "id"], name="resident_path_idx")]
        constraints = [
            # one person, one registry entry: the blind index of the ID number
            # is unique (rows without an ID number are exempt)
            models.UniqueConstraint(
                fields=["id_number_index"],
                condition=~models.Q(id_number_index=""),
                name="resident_id_number_unique",
            ),
        ]
        permissions = [("reveal_resident", "Can reveal residents' personal data")]

    def __str__(self) -> str:
        return self.name_masked or f"#{self.pk}"

    def age(self, on: datetime.date | None = None) -> int | None:
        """Age in whole years (the list and detail show this, not the birth date,
        which together with the masked ID number would give the whole number away)."""
        if self.birth_date is None:
            return None
        day = on or timezone.localdate()
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return max(years, 0)
