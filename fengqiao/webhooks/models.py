"""Webhooks: other government platforms subscribe to case events and receive them signed.

The case loop's append-only ``CaseEvent`` log is the outbox: the relay
(``relay.py``, a periodic task) reads events after a stored cursor and turns
each one that a subscription wants into one ``Message`` (the signed payload,
built once; its ``uid`` is the ``webhook-id`` header, the same on every retry
and resend) and one ``Delivery`` per matching subscription. The dispatcher
(``delivery.py``) claims due deliveries, posts them, records an ``Attempt``
per try and reschedules failures with exponential back-off.

Conventions: Standard Webhooks (https://www.standardwebhooks.com/): headers
``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``
over ``id.timestamp.body``, secrets ``whsec_<base64>``. See ``docs/webhooks.md``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec


class EventType(models.TextChoices):
    CASE_CREATED = "case.created", _("Case created")
    CASE_STATUS_CHANGED = "case.status_changed", _("Case status changed")
    CASE_CLOSED = "case.closed", _("Case closed or not accepted")


#: a test event sent by the "send a test event" button (not subscribable)
PING = "webhook.ping"


class Subscription(models.Model):
    """A receiving platform: where to post, which events, for which region."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("endpoint URL"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    event_types = models.JSONField(_("events"), default=list)
    region = models.ForeignKey("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    region_path = models.CharField(max_length=15, editable=False)
    # the signing secret "whsec_…", encrypted (fengqiao.core.crypto, bound to this column)
    secret = models.TextField(editable=False)
    # after a rotation the old secret also signs until it expires (receivers switch without a gap)
    previous_secret = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    pause_reason = models.CharField(_("reason for the pause"), max_length=200, blank=True)
    # events with a larger id are delivered: nothing from before the subscription existed
    start_event_id = models.BigIntegerField(default=0, editable=False)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful delivery"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path="region_path", owner="created_by")

    class Meta:
        verbose_name = _("webhook subscriber")
        verbose_name_plural = _("webhook subscribers")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["region_path"], name="webhooksub_path_idx")]

    def __str__(self) -> str:
        return self.name


class RelayCursor(models.Model):
    """Where the relay stands in the ``CaseEvent`` log (one row).

    Every event with ``id <= last_event_id`` has been relayed. Above it, ids can
    be missing for a while: on PostgreSQL an id is taken at insert but becomes
    visible at commit, so a long transaction (the sweeper's) can commit an older
    id after newer ones. The relay handles everything it sees but moves the cursor
    only over a gap-free run of ids; a gap that stays open longer than the grace
    period (a rolled-back insert never fills it) is skipped (``gap_from``/``gap_since``).
    """

    last_event_id = models.BigIntegerField(default=0)
    gap_from = models.BigIntegerField(null=True, blank=True)
    gap_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        default_permissions = ()  # internal; the pages are guarded by the subscription permissions

    def __str__(self) -> str:
        return f"relay cursor {self.last_event_id}"


def new_message_uid() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Message(models.Model):
    """One event as sent: the exact JSON body, signed at each attempt. ``uid`` is the ``webhook-id``."""

    uid = models.CharField(max_length=40, default=new_message_uid, editable=False)
    event_type = models.CharField(_("event"), max_length=40)
    case_event = models.ForeignKey(
        "cases.CaseEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    case_number = models.CharField(_("case"), max_length=20, blank=True)
    region_path = models.CharField(max_length=15, blank=True)
    payload = models.TextField(_("payload"))
    occurred_at = models.DateTimeField(_("occurred"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook message")
        default_permissions = ()
        verbose_name_plural = _("webhook messages")
        constraints = [
            models.UniqueConstraint(fields=["uid"], name="webhookmessage_uid_unique"),
            models.UniqueConstraint(
                fields=["case_event", "event_type"],
                condition=Q(case_event__isnull=False),
                name="webhookmessage_event_type_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.uid


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    HELD = "held", _("Held while paused")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed (no more retries)")
    CANCELLED = "cancelled", _("Discarded")


class Delivery(models.Model):
    """One message to one subscriber, with its retry state."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # failures since the delivery was (re)scheduled: picks the next back-off step
    cycle_failures = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    resent = models.BooleanField(default=False)  # the next attempt was asked for by staff
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("webhook delivery")
        default_permissions = ()
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "message"], name="webhookdelivery_unique"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhookdelivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.message_id} {self.status}"


class Attempt(models.Model):
    """One HTTP request of a delivery (the delivery log)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    ok = models.BooleanField(_("succeeded"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)
    response_excerpt = models.CharField(_("response"), max_length=500, blank=True)
    manual = models.BooleanField(_("resent by staff"), default=False)

    class Meta:
        verbose_name = _("delivery attempt")
        default_permissions = ()
        verbose_name_plural = _("delivery attempts")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.at:%Y-%m-%d %H:%M:%S} {self.status_code}"
