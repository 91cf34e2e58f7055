"""The append-only, tamper-evident audit log.

Rows are appended freely (no lock, no hash at write time). A periodic task
seals unsealed rows into blocks: each row gets ``row_hash = HMAC(key,
prev_hash || canonical(row))`` in sealing order and the block records its
row count, first and last hash and the previous block's hash. ``manage.py
verify_audit_log`` recomputes everything and reports an edited, inserted or
deleted row (the logic is in ``fengqiao.audit.sealing``).

The model refuses ``save()`` of an existing row and ``delete()`` (also on
querysets), and the admin is read-only. That only makes accidental edits
hard: anyone with write access to the database can still change a row. The
real guarantee is the HMAC chain (keyed with ``FENGQIAO_AUDIT_KEY``, kept
outside the database) together with anchoring: write down, print or send
elsewhere the head hash that ``verify_audit_log`` prints, so that truncating
the newest blocks is detected too (``verify_audit_log --anchor HASH``).

The actor reference has no database constraint and is never cascaded: a
deleted user's events keep their ``actor_id`` and ``actor_name`` unchanged,
since changing them would (rightly) break the chain.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class Category(models.TextChoices):
    OPERATION = "operation", _("Operation")
    LOGIN = "login", _("Login")
    ACCESS = "access", _("Personal data access")
    SYSTEM = "system", _("System")


class AppendOnlyError(Exception):
    """Raised on an attempt to change or delete an audit event through the ORM."""


class AuditEventQuerySet(RestrictedQuerySet["AuditEvent"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only: events cannot be deleted.")

    delete.queryset_only = True  # type: ignore[attr-defined]

    async def adelete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only: events cannot be deleted.")

    adelete.queryset_only = True  # type: ignore[attr-defined]


class AuditBlock(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    row_count = models.PositiveIntegerField()
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    head_hash = models.CharField(max_length=64, help_text="row_hash of the block's last row")
    block_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("sealed block")
        verbose_name_plural = _("sealed blocks")
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"block {self.seq} ({self.row_count} rows)"


class AuditEvent(models.Model):
    at = models.DateTimeField(_("time"), db_index=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, default=Category.OPERATION)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    result = models.CharField(_("result"), max_length=20, default="ok")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(_("operator"), max_length=150, blank=True)
    unit_name = models.CharField(_("unit"), max_length=100, blank=True)
    region_path = models.CharField(max_length=15, blank=True, db_index=True)
    ip = models.CharField(_("IP address"), max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, default="system")
    request_id = models.CharField(max_length=32, blank=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    detail = models.JSONField(_("detail"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # sealing
    block = models.ForeignKey(AuditBlock, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    row_hash = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", owner="actor")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["category", "-at"], name="audit_category_at_idx"),
            models.Index(fields=["block"], name="audit_unsealed_idx", condition=models.Q(block__isnull=True)),
        ]
        permissions = [("export_auditevent", "Can export audit events")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The audit log is append-only: an existing event cannot be saved again.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only: events cannot be deleted.")
