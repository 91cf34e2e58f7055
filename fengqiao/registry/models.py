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
    groups: models.ManyToManyField[SpecialGroup, GroupMembership] = models.ManyToManyField(
        "SpecialGroup",
        through="GroupMembership",
        verbose_name=_("special groups"),
        related_name="residents",
        blank=True,
    )
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


# --- special groups ------------------------------------------------------------------


class SpecialGroup(models.Model):
    """A group of people the grid follows up (特殊人群 / 重点人群), e.g. people under
    community correction or left-behind elderly, with its own visit frequency.

    ``sensitive`` groups (community correction, severe mental illness, drug
    rehabilitation...) and their members are only shown to users with the
    permission ``registry.view_sensitive_specialgroup``.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=50)
    description = models.CharField(_("description"), max_length=200, blank=True)
    visit_every_days = models.PositiveSmallIntegerField(
        _("visit every (days)"), help_text=_("How often a member should be visited, in days.")
    )
    sensitive = models.BooleanField(
        _("sensitive"), default=False, help_text=_("Only staff with the permission for sensitive groups see it.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("special group")
        verbose_name_plural = _("special groups")
        ordering = ["sort_order", "code"]
        permissions = [("view_sensitive_specialgroup", "Can see sensitive special groups and their members")]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    """A resident's membership of a special group, from ``since`` until ``until`` (open: still a member)."""

    resident = models.ForeignKey(
        Resident, verbose_name=_("resident"), on_delete=models.CASCADE, related_name="memberships"
    )
    group = models.ForeignKey(
        SpecialGroup, verbose_name=_("special group"), on_delete=models.PROTECT, related_name="memberships"
    )
    since = models.DateField(_("since"))
    until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="resident__region_path")

    class Meta:
        verbose_name = _("group membership")
        verbose_name_plural = _("group memberships")
        ordering = ["group__sort_order", "-since"]
        indexes = [models.Index(fields=["group", "until"], name="membership_group_until_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__isnull=True) | models.Q(until__gte=models.F("since")),
                name="membership_until_after_since",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.group}"

    def is_current(self, on: datetime.date | None = None) -> bool:
        day = on or timezone.localdate()
        return self.since <= day and (self.until is None or self.until >= day)


# --- places and organisations --------------------------------------------------------


class PlaceKind(models.TextChoices):
    SHOP = "shop", _("Shop")
    RENTAL = "rental", _("Rental housing")
    SCHOOL = "school", _("School")
    KINDERGARTEN = "kindergarten", _("Kindergarten")
    HOSPITAL = "hospital", _("Hospital or clinic")
    FACTORY = "factory", _("Factory or workshop")
    RESTAURANT = "restaurant", _("Restaurant")
    HOTEL = "hotel", _("Hotel or guesthouse")
    ENTERTAINMENT = "entertainment", _("Entertainment venue")
    MARKET = "market", _("Market")
    RELIGIOUS = "religious", _("Religious site")
    WAREHOUSE = "warehouse", _("Warehouse")
    OTHER = "other", _("Other")


class Place(PersonalDataModel):
    """A place in a grid (场所): a shop, rental housing, a school... with its contact person.

    For rental housing (出租屋) the landlord and the tenants can be linked to
    registered residents.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=PlaceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200)
    grid = models.ForeignKey("regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="places")
    region_path = models.CharField(max_length=15, editable=False)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    contact_name = EncryptedTextField(_("contact person"), kind="name")
    contact_name_masked = models.CharField(_("contact person"), max_length=50, blank=True, editable=False)
    contact_phone = EncryptedTextField(_("contact phone"), kind="phone", searchable=True)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=32, blank=True, editable=False)
    contact_phone_index = BlindIndexField()
    landlord = models.ForeignKey(
        Resident,
        verbose_name=_("landlord"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_places",
    )
    tenants = models.ManyToManyField(Resident, verbose_name=_("tenants"), blank=True, related_name="rented_places")
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["region_path", "id"]
        indexes = [models.Index(fields=["region_path", "id"], name="place_path_idx")]

    def __str__(self) -> str:
        return self.name


class OrganisationKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL = "individual", _("Individual business")
    SOCIAL = "social", _("Social organisation")
    PUBLIC = "public", _("Public institution")
    GOVERNMENT = "government", _("Government agency")
    COOPERATIVE = "cooperative", _("Cooperative")
    PARTY = "party", _("Party organisation")
    OTHER = "other", _("Other")


class Organisation(PersonalDataModel):
    """An organisation in a grid (组织): an enterprise, a social organisation..."""

    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    name = models.CharField(_("name"), max_length=100)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200)
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="organisations"
    )
    region_path = models.CharField(max_length=15, editable=False)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    legal_representative = EncryptedTextField(_("legal representative"), kind="name")
    legal_representative_masked = models.CharField(_("legal representative"), max_length=50, blank=True, editable=False)
    contact_phone = EncryptedTextField(_("contact phone"), kind="phone", searchable=True)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=32, blank=True, editable=False)
    contact_phone_index = BlindIndexField()
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["region_path", "id"]
        indexes = [models.Index(fields=["region_path", "id"], name="organisation_path_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~models.Q(credit_code=""), name="organisation_credit_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name
