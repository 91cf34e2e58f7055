"""Notifications to staff: one row per recipient, delivered through the configured channels.

``dedupe_key`` (unique per recipient) makes sending idempotent: a second
``notify`` with the same key for the same person writes nothing and sends
nothing, even from two workers at the same moment. ``batch`` tells a caller
which rows its own insert created. ``attempted_at`` is the delivery claim
(set once, by the worker that sends); ``delivered`` / ``channel`` / ``error``
record the outcome per channel.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=50)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, editable=False)
    batch = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered = models.BooleanField(_("delivered"), default=False)
    channel = models.CharField(_("channels"), max_length=100, blank=True)
    error = models.TextField(_("delivery error"), blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="notification_dedupe_unique"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox_idx"),
            models.Index(
                fields=["recipient"], name="notification_unread_idx", condition=models.Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.subject
