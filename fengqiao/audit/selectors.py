"""Reading the audit log for the pages: always through ``restrict(user, "view")``."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from .labels import actions_matching
from .models import AuditEvent, Category

PAGE_SIZE = 25

#: categories shown in each log
KIND_CATEGORIES = {
    "operation": (Category.OPERATION, Category.ACCESS, Category.SYSTEM),
    "login": (Category.LOGIN,),
}


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def events(user: Any, kind: str, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The events of one log (``"operation"`` or ``"login"``) the user may see, filtered, newest first."""
    qs: QuerySet[AuditEvent] = AuditEvent.objects.restrict(user, "view").filter(category__in=KIND_CATEGORIES[kind])
    if start := filters.get("date_from"):
        qs = qs.filter(at__gte=_day_start(start))
    if end := filters.get("date_to"):
        qs = qs.filter(at__lt=_day_start(end + datetime.timedelta(days=1)))
    if operator := filters.get("operator"):
        qs = qs.filter(Q(actor_name__icontains=operator) | Q(unit_name__icontains=operator))
    if action := filters.get("action"):
        if kind == "login":
            qs = qs.filter(action=action)
        else:  # a part of the code ("resident") or of its name ("修改居民")
            qs = qs.filter(Q(action__icontains=action) | Q(action__in=actions_matching(action)))
    if object_type := filters.get("object_type"):
        qs = qs.filter(object_type=object_type)
    if object_id := filters.get("object_id"):
        qs = qs.filter(object_id=object_id)
    if ip := filters.get("ip"):
        qs = qs.filter(ip__startswith=ip)
    if result := filters.get("result"):
        qs = qs.filter(result=result)
    return qs.order_by("-at", "-id")


def event_detail(user: Any) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.restrict(user, "view").select_related("block")
