"""Restricted reads: subscribers through their data scope (region), deliveries through their subscriber."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from .models import Attempt, Delivery, Subscription


def subscriptions(user: Any, action: str = "view") -> QuerySet[Subscription]:
    return Subscription.objects.restrict(user, action).select_related("region", "created_by")


def get_subscription(user: Any, pk: int, action: str = "view") -> Subscription:
    """The subscriber, or 404 when missing or outside the user's scope."""
    sub = subscriptions(user, action).filter(pk=pk).first()
    if sub is None:
        raise Http404
    return sub


def deliveries(sub: Subscription, *, status: str = "", event_type: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(subscription=sub).select_related("message")
    if status:
        qs = qs.filter(status=status)
    if event_type:
        qs = qs.filter(message__event_type=event_type)
    return qs.order_by("-created_at", "-id")


def get_delivery(sub: Subscription, pk: int) -> Delivery:
    d = Delivery.objects.filter(subscription=sub, pk=pk).select_related("message", "subscription").first()
    if d is None:
        raise Http404
    return d


def attempts(d: Delivery) -> QuerySet[Attempt]:
    return Attempt.objects.filter(delivery=d).order_by("-at", "-id")


def last_deliveries(subs: list[Subscription]) -> dict[int, Delivery]:
    """The newest delivery of each subscriber (for the list page)."""
    out: dict[int, Delivery] = {}
    for sub in subs:
        d = Delivery.objects.filter(subscription=sub).exclude(last_attempt_at=None).order_by("-last_attempt_at").first()
        if d is not None:
            out[sub.pk] = d
    return out
