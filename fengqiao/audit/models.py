"""The append-only, tamper-evident audit log.

Rows are appended freely (no lock, no hash at write time). A periodic task
seals unsealed rows into blocks: each row gets ``row_hash = HMAC(key,
prev_hash || canonical(row))`` in sealing order and the block records its
row count, first and last hash and the previous block's hash. ``manage.py
verify_audit_log`` recomputes everything and reports an edited, inserted or
deleted row. See docs/architecture.md ("Audit log").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class Category(models.TextChoices):
    OPERATION = "operation", _("Operation")
    LOGIN = "login", _("Login")
    ACCESS = "access", _("Personal data access")
    SYSTEM = "system", _("System")


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
        on_delete=models.SET_NULL,
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

    objects = RestrictedQuerySet.as_manager()
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
