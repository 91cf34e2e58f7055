"""A user's own notifications (personal: no data scope, only the rows addressed to the user)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Notification


def my_notifications(user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    return my_notifications(user, unread_only=True).count()
