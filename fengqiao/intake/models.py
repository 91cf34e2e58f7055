"""The intake inbox: a resident's report as received, before it becomes a case.

The public form (and later Open311) checks everything that can be checked in the
request and writes one ``Submission`` row; a background drain
(``fengqiao.intake.services.drain_inbox``) turns pending rows into cases in
batches. The row keeps the resident's private token (the case gets the same
``public_token``), the idempotency key (unique: one row, one case per form) and
the time of receipt (the case's ``received_at``). See
``docs/decisions/0002-write-behind-intake.md``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fengqiao.core.personal import EncryptedTextField, PersonalDataModel
from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", _("Being registered")
    DONE = "done", _("Registered as a case")
    FAILED = "failed", _("Could not be registered")


class Submission(PersonalDataModel):
    """One report in the inbox. ``payload`` holds the checked values (description, point, address,
    anonymous, extra fields, stored photos); name and phone are encrypted columns."""

    public_token = models.CharField(max_length=64, editable=False)
    idempotency_key = models.CharField(max_length=64, editable=False)
    channel = models.CharField(_("channel"), max_length=10)
    # No database constraint on these two: every report of a busy community would otherwise take a
    # key-share lock on the same region and category rows (PostgreSQL's foreign-key check), which
    # serialises concurrent inserts through multixacts. The values come from rows the request has
    # just read; deleting them is PROTECTed by Django, and the drain fails a row whose category is gone.
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    community = models.ForeignKey(
        "regions.Region",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    region_path = models.CharField(max_length=15, blank=True, editable=False)
    payload = models.JSONField(default=dict)
    reporter_name = EncryptedTextField(_("reporter's name"), kind="name")
    reporter_name_masked = models.CharField(_("reporter's name"), max_length=50, blank=True, editable=False)
    reporter_phone = EncryptedTextField(_("reporter's phone"), kind="phone")
    reporter_phone_masked = models.CharField(_("reporter's phone"), max_length=32, blank=True, editable=False)
    received_at = models.DateTimeField(_("received"))
    status = models.CharField(
        _("status"), max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("reason"), blank=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path")

    #: set by ``receive_report`` when the idempotency key had been used before (not stored)
    replayed = False

    class Meta:
        verbose_name = _("received report")
        verbose_name_plural = _("received reports")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["public_token"], name="submission_public_token_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="submission_idempotency_key_unique"),
        ]
        indexes = [
            # what the drain claims: small, only the rows still waiting
            models.Index(fields=["id"], condition=Q(status="pending"), name="submission_pending_idx"),
            # the staff page's failed rows (few; a row never enters it on the insert path)
            models.Index(fields=["id"], condition=Q(status="failed"), name="submission_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} · {self.received_at:%Y-%m-%d %H:%M}"

    @property
    def description(self) -> str:
        return str((self.payload or {}).get("description", ""))
