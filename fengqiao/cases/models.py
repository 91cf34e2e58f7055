"""Cases: residents' reports, petitions (信访) and service requests, handled in a closed loop.

The loop (seed 001, 一码解纠纷): triage at the street centre (研判审核) → handle
there, assign to a community centre or grid worker, escalate to the district
centre (with the street principal leader's approval; the district then
dispatches to a department), or reject with a reason and guidance → 排查上报 →
流转（派遣）→ 处置（整治）with feedback and photos → 复查 → 结案 → the resident's
rating → reopening when dissatisfied. The transitions are data
(``fengqiao/cases/workflow.py``); every applied transition is a ``CaseEvent``
(append-only).

Clocks: ``first_response_due`` / ``first_responded_at`` and
``resolution_due`` / ``resolved_at`` are separate. While ``suspended_at`` is
set the clock is stopped; on resume the deadline moves by the working days
spent suspended (``suspended_days`` keeps the total). ``version`` increases on
every transition: a stale form is refused (optimistic concurrency).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fengqiao.core.personal import BlindIndexField, EncryptedTextField, PersonalDataModel
from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class CaseKind(models.TextChoices):
    REPORT = "report", _("Report or dispute")
    PETITION = "petition", _("Petition (信访)")
    SERVICE = "service", _("Service request (代办)")


class Complexity(models.TextChoices):
    SIMPLE = "simple", _("Simple")
    GENERAL = "general", _("General")
    COMPLEX = "complex", _("Complex")


class HandlingLevel(models.TextChoices):
    DISTRICT = "district", _("District centre")
    STREET = "street", _("Street centre")
    COMMUNITY = "community", _("Community centre")
    GRID = "grid", _("Grid worker")


class Category(models.Model):
    """A kind of problem, configurable per district (``district`` empty = every district).

    ``extra_fields``: list of {"code", "label", "label_en", "datatype"
    (string|number|datetime|text|singlevaluelist|multivaluelist), "required",
    "values": [{"key", "name"}]} — the same shape Open311 service attributes use.
    ``response_templates``: list of {"title", "text"} for staff replies.
    """

    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CaseKind.choices, default=CaseKind.REPORT)
    district = models.ForeignKey(
        "regions.Region", verbose_name=_("district"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    default_complexity = models.CharField(
        _("default complexity"), max_length=10, choices=Complexity.choices, default=Complexity.GENERAL
    )
    default_level = models.CharField(
        _("default handling level"), max_length=10, choices=HandlingLevel.choices, default=HandlingLevel.STREET
    )
    default_unit_kind = models.CharField(_("default unit kind"), max_length=20, blank=True)
    extra_fields = models.JSONField(_("extra fields"), default=list, blank=True)
    response_templates = models.JSONField(_("response templates"), default=list, blank=True)
    is_public = models.BooleanField(_("residents may choose it"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["code", "district"], name="category_code_district_unique"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(district__isnull=True), name="category_code_global_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CaseState(models.TextChoices):
    SUBMITTED = "submitted", _("Awaiting triage")
    ESCALATION_PENDING = "escalation_pending", _("Escalation awaiting approval")
    DISTRICT_TRIAGE = "district_triage", _("At the district centre")
    ASSIGNED = "assigned", _("Dispatched, awaiting acceptance")
    IN_PROGRESS = "in_progress", _("Being handled")
    REVIEW = "review", _("Awaiting review")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Not accepted")
    MERGED = "merged", _("Merged into another case")


OPEN_STATES = (
    CaseState.SUBMITTED,
    CaseState.ESCALATION_PENDING,
    CaseState.DISTRICT_TRIAGE,
    CaseState.ASSIGNED,
    CaseState.IN_PROGRESS,
    CaseState.REVIEW,
)
FINAL_STATES = (CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED)


class Channel(models.TextChoices):
    QR = "qr", _("Community QR code")
    WALK_IN = "walk_in", _("Walk-in")
    PHONE = "phone", _("Phone call")
    PROXY = "proxy", _("Filed on a resident's behalf (代办)")
    GRID = "grid", _("Found by a grid worker (排查上报)")
    IMPORT = "import", _("Excel import")
    OPEN311 = "open311", _("Open311 API")
    API = "api", _("JSON API")
    ASSESSMENT = "assessment", _("Household assessment")


def new_public_token() -> str:
    return secrets.token_urlsafe(24)


class CaseQuerySet(RestrictedQuerySet["Case"]):
    def open(self) -> CaseQuerySet:
        return self.filter(state__in=OPEN_STATES)


class Case(PersonalDataModel):
    # uniqueness as constraints rather than unique=True: on PostgreSQL that avoids a second
    # (pattern-ops) index per column, which every write to this busy table would pay for
    number = models.CharField(_("tracking number"), max_length=20)
    public_token = models.CharField(max_length=64, default=new_public_token, editable=False)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=CaseKind.choices, default=CaseKind.REPORT)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,  # served by case_category_state_idx
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    title = models.CharField(_("title"), max_length=120, blank=True)
    description = models.TextField(_("description"))
    extra = models.JSONField(_("extra information"), default=dict, blank=True)
    # where
    address = models.CharField(_("address"), max_length=200, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    community = models.ForeignKey(
        "regions.Region", verbose_name=_("community"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    grid = models.ForeignKey(
        "regions.Region", verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    region_path = models.CharField(max_length=15, editable=False)
    # who reported (personal data, encrypted)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    reporter_name = EncryptedTextField(_("reporter's name"), kind="name")
    reporter_name_masked = models.CharField(_("reporter's name"), max_length=50, blank=True, editable=False)
    reporter_phone = EncryptedTextField(_("reporter's phone"), kind="phone", searchable=True)
    reporter_phone_masked = models.CharField(_("reporter's phone"), max_length=32, blank=True, editable=False)
    reporter_phone_index = BlindIndexField()
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Staff member who filed it (walk-in, phone, proxy)"),
    )
    # who handles it
    state = models.CharField(_("state"), max_length=20, choices=CaseState.choices, default=CaseState.SUBMITTED)
    triage_unit = models.ForeignKey(
        "units.Unit", verbose_name=_("triage centre"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey(
        "units.Unit", verbose_name=_("handling unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    complexity = models.CharField(_("complexity"), max_length=10, choices=Complexity.choices)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    # clocks
    received_at = models.DateTimeField(_("received"), db_index=True)
    clock_started_at = models.DateTimeField(
        _("resolution clock started"),
        null=True,
        blank=True,
        help_text=_("Receipt; acceptance for petitions; reopening"),
    )
    due_override = models.DateTimeField(_("deadline set at triage"), null=True, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first responded"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended since"), null=True, blank=True)
    suspended_days = models.PositiveIntegerField(_("working days suspended"), default=0)
    extension_days = models.PositiveIntegerField(_("days of extension granted"), default=0)
    extension_requested_days = models.PositiveIntegerField(null=True, blank=True)
    overdue_escalated_at = models.DateTimeField(null=True, blank=True)
    supervised = models.BooleanField(_("under supervision (督办)"), default=False)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    # the resident's verdict
    rating = models.PositiveSmallIntegerField(_("satisfaction (1-5)"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    resolution_outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    rejection_reason = models.TextField(_("reason for not accepting"), blank=True)
    rejection_guidance = models.TextField(_("guidance for the resident"), blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()
    # the handler and the staff member who filed it (代办: "file and follow") always see the case
    scope_spec = ScopeSpec(region_path="region_path", unit="unit", owner=("assignee", "filed_by"))

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="case_number_unique"),
            models.UniqueConstraint(fields=["public_token"], name="case_public_token_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="case_idempotency_key_unique"),
        ]
        indexes = [
            models.Index(fields=["region_path", "-received_at"], name="case_path_received_idx"),
            models.Index(fields=["state", "resolution_due"], name="case_state_due_idx"),
            models.Index(fields=["category", "state"], name="case_category_state_idx"),
            models.Index(fields=["updated_at"], name="case_updated_idx"),
        ]
        permissions = [
            ("triage_case", "Can triage cases (研判)"),
            ("approve_escalation_case", "Can approve escalations (principal leader)"),
            ("dispatch_case", "Can dispatch cases"),
            ("handle_case", "Can handle cases and feed back"),
            ("review_case", "Can review and close cases"),
            ("supervise_case", "Can supervise cases (督办)"),
            ("approve_extension_case", "Can approve extensions"),
            ("reveal_case", "Can reveal reporters' personal data"),
            ("acknowledge_case", "Can acknowledge alerts on the duty console"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class CaseEvent(models.Model):
    """Append-only history of a case: one row per applied transition or note."""

    # both lookups are served by caseevent_case_at_idx (case, at) or not needed: no single-column indexes
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", db_index=False)
    at = models.DateTimeField(_("time"))
    action = models.CharField(_("action"), max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=100, blank=True)
    public = models.BooleanField(_("shown to the resident"), default=False)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="caseevent_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("Case events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"cases/{instance.case.received_at:%Y/%m}/{instance.case.number}/{secrets.token_hex(8)}-{filename[-60:]}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    event = models.ForeignKey(CaseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_by_resident = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name or self.file.name


class DutyAlert(models.Model):
    """Something the 24-hour duty console must show until a staff member acknowledges it."""

    class Kind(models.TextChoices):
        NEW_CASE = "new_case", _("New report")
        DUE_SOON = "due_soon", _("Deadline approaching")
        OVERDUE = "overdue", _("Overdue")
        ESCALATED = "escalated", _("Escalated")
        REOPENED = "reopened", _("Reopened by the resident")

    # no case: a digest of ``case_count`` cases (the deadline sweeper's, when many go overdue at once)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    case_count = models.PositiveIntegerField(_("cases"), default=1, db_default=1)  # db_default: older writers
    kind = models.CharField(max_length=12, choices=Kind.choices)
    region_path = models.CharField(max_length=15, editable=False)
    unit = models.ForeignKey("units.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    dedupe_key = models.CharField(max_length=120)
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", unit="unit")

    class Meta:
        verbose_name = _("duty alert")
        verbose_name_plural = _("duty alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="dutyalert_dedupe_key_unique")]
        indexes = [
            models.Index(
                fields=["region_path", "-created_at"],
                name="dutyalert_open_idx",
                condition=Q(acknowledged_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.case_id or self.case_count}"

    @property
    def cases_url(self) -> str:
        """A digest's cases: the staff case list, overdue cases under the alert's place, most overdue first."""
        return reverse("cases:list") + "?" + urlencode({"overdue": "on", "sort": "due", "region": self.region_path})


from .figures_models import CaseFigureMonth, CaseFigureRefresh  # noqa: E402, F401 - figures rollup
