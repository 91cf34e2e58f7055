"""Every write of the webhooks app: subscribers, their secrets, pausing, test events, resends.

Each service checks the permission and the data scope (a subscriber's region
must lie in the actor's scope: a street centre cannot subscribe a platform to
another street's cases), validates (``ValidationError`` keyed by field), writes,
and records an audit event. The signing secret is returned once, by
``create_subscription`` and ``rotate_secret``; it is stored encrypted.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.core import crypto
from fengqiao.core.scope import ScopeSpec, scope_q
from fengqiao.regions.models import Region

from . import signing
from .delivery import SECRET_CONTEXT
from .models import PING, Delivery, DeliveryStatus, EventType, Message, Subscription
from .netguard import UnsafeURL, check_url, config
from .payloads import ping_payload
from .relay import latest_event_id

MAX_NAME = 100
MAX_URL = 500
ROTATION_GRACE = datetime.timedelta(hours=24)
_REGION_SPEC = ScopeSpec(region_path="path")


def regions_in_scope(user: Any, action: str = "add") -> Any:
    """The regions ``user`` may scope a subscriber to (``action``: add or change)."""
    q = scope_q(user, f"webhooks.{action}_subscription", _REGION_SPEC)
    if q is None:
        return Region.objects.none()
    return Region.objects.filter(q).filter(valid_to__isnull=True)


def _snapshot(sub: Subscription) -> dict[str, Any]:
    return {
        "name": sub.name,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "region": sub.region.code if sub.region_id else "",
        "is_active": sub.is_active,
        "description": sub.description,
    }


def _require(actor: Any, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("Log in first."))
    if not actor.has_perm(f"webhooks.{action}_subscription"):
        raise PermissionDenied(_("You may not do this."))


def _check_in_scope(sub: Subscription, actor: Any, action: str) -> None:
    if not Subscription.objects.restrict(actor, action).filter(pk=sub.pk).exists():
        raise PermissionDenied(_("This subscriber is not in your scope."))


def _validate(
    actor: Any, action: str, *, name: str, url: str, event_types: list[str], region: Region | None
) -> tuple[str, str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    url = (url or "").strip()
    if not name:
        errors["name"] = [_("Give the receiving platform a name.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("The name is too long (at most %(max)d characters).") % {"max": MAX_NAME}]
    if not url:
        errors["url"] = [_("Enter the address that receives the events.")]
    elif len(url) > MAX_URL:
        errors["url"] = [_("The address is too long (at most %(max)d characters).") % {"max": MAX_URL}]
    else:
        try:
            check_url(url)
        except UnsafeURL as exc:
            errors["url"] = [str(exc)]
    types = list(dict.fromkeys(event_types or []))
    unknown = [t for t in types if t not in EventType.values]
    if not types:
        errors["event_types"] = [_("Choose at least one event.")]
    elif unknown:
        errors["event_types"] = [_("Unknown event: %(names)s.") % {"names": ", ".join(unknown)}]
    if region is None:
        errors["region"] = [_("Choose the region whose cases this platform receives.")]
    elif not regions_in_scope(actor, action).filter(pk=region.pk).exists():
        errors["region"] = [_("This region is outside your scope.")]
    if errors:
        raise ValidationError(errors)
    return name, url, types


def _encrypt(secret: str) -> str:
    return crypto.encrypt(secret, context=SECRET_CONTEXT)


@transaction.atomic
def create_subscription(
    *,
    actor: Any,
    name: str,
    url: str,
    event_types: list[str],
    region: Region | None,
    description: str = "",
    active: bool = True,
) -> tuple[Subscription, str]:
    """Register a receiver; returns it and its signing secret (shown once, stored encrypted).

    It receives only events of cases changed after this moment."""
    _require(actor, "add")
    name, url, types = _validate(actor, "add", name=name, url=url, event_types=event_types, region=region)
    if region is None:  # _validate refused it already; for the type checker
        raise ValidationError({"region": _("Choose the region whose cases this platform receives.")})
    secret = signing.new_secret()
    sub = Subscription.objects.create(
        name=name,
        url=url,
        description=(description or "").strip(),
        event_types=types,
        region=region,
        region_path=region.path,
        secret=_encrypt(secret),
        is_active=active,
        paused_at=None if active else timezone.now(),
        start_event_id=latest_event_id(),
        created_by=actor,
    )
    record("webhooks.subscription.create", actor=actor, obj=sub, after=_snapshot(sub))
    return sub, secret


@transaction.atomic
def update_subscription(
    sub: Subscription,
    *,
    actor: Any,
    name: str,
    url: str,
    event_types: list[str],
    region: Region | None,
    description: str = "",
) -> Subscription:
    _require(actor, "change")
    _check_in_scope(sub, actor, "change")
    name, url, types = _validate(actor, "change", name=name, url=url, event_types=event_types, region=region)
    if region is None:  # _validate refused it already; for the type checker
        raise ValidationError({"region": _("Choose the region whose cases this platform receives.")})
    locked = Subscription.objects.select_for_update().select_related("region").get(pk=sub.pk)
    before = _snapshot(locked)
    locked.name, locked.url, locked.event_types = name, url, types
    locked.region, locked.region_path = region, region.path
    locked.description = (description or "").strip()
    locked.save()
    record("webhooks.subscription.update", actor=actor, obj=locked, before=before, after=_snapshot(locked))
    return locked


@transaction.atomic
def delete_subscription(sub: Subscription, *, actor: Any) -> None:
    """Remove a receiver and its delivery log (the audit log keeps the record)."""
    _require(actor, "delete")
    _check_in_scope(sub, actor, "delete")
    before = _snapshot(sub)
    record("webhooks.subscription.delete", actor=actor, obj=sub, before=before)
    sub.delete()
    Message.objects.filter(event_type=PING, deliveries__isnull=True).delete()


def _hold(sub: Subscription) -> int:
    """Park the waiting deliveries of a paused subscriber (test events go on)."""
    return (
        Delivery.objects.filter(subscription=sub, status=DeliveryStatus.PENDING)
        .exclude(message__event_type=PING)
        .update(status=DeliveryStatus.HELD, next_attempt_at=None, claimed_until=None, claim_token="")
    )


@transaction.atomic
def pause_subscription(sub: Subscription, *, actor: Any, reason: str = "") -> Subscription:
    """Stop sending. Events keep being recorded for it (held) and go out on resume."""
    _require(actor, "change")
    _check_in_scope(sub, actor, "change")
    locked = Subscription.objects.select_for_update().get(pk=sub.pk)
    if not locked.is_active:
        raise ValidationError(_("This subscriber is already paused."))
    locked.is_active = False
    locked.paused_at = timezone.now()
    locked.pause_reason = (reason or _("Paused by %(user)s") % {"user": actor.get_username()})[:200]
    locked.save(update_fields=["is_active", "paused_at", "pause_reason", "updated_at"])
    held = _hold(locked)
    record("webhooks.subscription.pause", actor=actor, obj=locked, detail={"held": held, "reason": locked.pause_reason})
    return locked


@transaction.atomic
def resume_subscription(sub: Subscription, *, actor: Any, send_held: bool = True) -> Subscription:
    """Send again; the events held while paused go out now (or are discarded with ``send_held=False``)."""
    _require(actor, "change")
    _check_in_scope(sub, actor, "change")
    locked = Subscription.objects.select_for_update().get(pk=sub.pk)
    if locked.is_active:
        raise ValidationError(_("This subscriber is not paused."))
    now = timezone.now()
    held = Delivery.objects.filter(subscription=locked, status=DeliveryStatus.HELD)
    if send_held:
        released = held.update(status=DeliveryStatus.PENDING, next_attempt_at=now, cycle_failures=0)
    else:
        released = held.update(status=DeliveryStatus.CANCELLED)
    locked.is_active = True
    locked.paused_at = None
    locked.pause_reason = ""
    locked.consecutive_failures = 0
    locked.failing_since = None
    locked.save()
    record(
        "webhooks.subscription.resume",
        actor=actor,
        obj=locked,
        detail={"held_events": released, "sent": send_held},
    )
    return locked


@transaction.atomic
def rotate_secret(sub: Subscription, *, actor: Any, now: datetime.datetime | None = None) -> str:
    """A new signing secret (returned once). The old one also signs for 24 hours, so the receiver can switch."""
    _require(actor, "change")
    _check_in_scope(sub, actor, "change")
    now = now or timezone.now()
    locked = Subscription.objects.select_for_update().get(pk=sub.pk)
    secret = signing.new_secret()
    locked.previous_secret = locked.secret
    locked.previous_secret_expires_at = now + ROTATION_GRACE
    locked.secret = _encrypt(secret)
    locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    record(
        "webhooks.subscription.rotate_secret",
        actor=actor,
        obj=locked,
        detail={"old_secret_valid_until": locked.previous_secret_expires_at.isoformat()},
    )
    return secret


def _send_soon(delivery_id: int) -> None:
    from .tasks import send_delivery

    transaction.on_commit(lambda: send_delivery.enqueue(delivery_id))


@transaction.atomic
def send_test_event(sub: Subscription, *, actor: Any) -> Delivery:
    """A ``webhook.ping`` to this subscriber, sent at once (also while paused), tried once."""
    _require(actor, "change")
    _check_in_scope(sub, actor, "change")
    now = timezone.now()
    message = Message.objects.create(
        event_type=PING, region_path=sub.region_path, payload=ping_payload(sub.name, now), occurred_at=now
    )
    delivery = Delivery.objects.create(
        subscription=sub, message=message, status=DeliveryStatus.PENDING, next_attempt_at=now, created_at=now
    )
    record("webhooks.subscription.ping", actor=actor, obj=sub, detail={"message": message.uid})
    _send_soon(delivery.pk)
    return delivery


@transaction.atomic
def resend_delivery(delivery: Delivery, *, actor: Any) -> Delivery:
    """Send a delivery again now, with the same ``webhook-id`` and body, and a fresh round of retries."""
    _require(actor, "change")
    _check_in_scope(delivery.subscription, actor, "change")
    locked = Delivery.objects.select_for_update().select_related("subscription", "message").get(pk=delivery.pk)
    if locked.status == DeliveryStatus.PENDING:
        raise ValidationError(_("This delivery is already waiting to be sent."))
    if not locked.subscription.is_active and locked.message.event_type != PING:
        raise ValidationError(_("Resume the subscriber first; its deliveries are held while it is paused."))
    before = locked.status
    now = timezone.now()
    locked.status = DeliveryStatus.PENDING
    locked.next_attempt_at = now
    locked.cycle_failures = 0
    locked.resent = True
    locked.save(update_fields=["status", "next_attempt_at", "cycle_failures", "resent"])
    record(
        "webhooks.delivery.resend",
        actor=actor,
        obj=locked.subscription,
        detail={"message": locked.message.uid, "event": locked.message.event_type, "status_before": before},
    )
    _send_soon(locked.pk)
    return locked


def auto_pause_if_failing(subscription_id: int, now: datetime.datetime) -> bool:
    """Pause a subscriber whose attempts keep failing, and tell its owner; True if paused now."""
    limit = int(config().get("pause_after_failures", 15))
    span = datetime.timedelta(seconds=float(config().get("pause_after_seconds", 3600)))
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(pk=subscription_id, is_active=True).first()
        if sub is None or sub.consecutive_failures < limit:
            return False
        if sub.failing_since is None or now - sub.failing_since < span:
            return False
        sub.is_active = False
        sub.paused_at = now
        sub.pause_reason = (
            _("Paused automatically after %(n)d failed attempts in a row.") % {"n": sub.consecutive_failures}
        )[:200]
        sub.save(update_fields=["is_active", "paused_at", "pause_reason", "updated_at"])
        held = _hold(sub)
        record(
            "webhooks.subscription.auto_pause",
            obj=sub,
            actor_name="system",
            detail={"failures": sub.consecutive_failures, "held": held},
        )
        owner_id = sub.created_by_id
        name, pk = sub.name, sub.pk
    if owner_id:
        from fengqiao.notifications.services import notify

        notify(
            [owner_id],
            "webhook.paused",
            _("Webhook subscriber “%(name)s” was paused") % {"name": name},
            _(
                "Its endpoint failed %(n)d times in a row. New events are held, not lost. "
                "Check the receiver, send a test event, then resume it."
            )
            % {"n": limit},
            url=f"/webhooks/{pk}/",
            dedupe_key=f"webhook:{pk}:paused:{now.isoformat()}",
        )
    return True
