"""Restricted reads of cases (every staff read starts from ``Case.objects.restrict``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from fengqiao.core.workflow import Transition
from fengqiao.regions.models import Region

from .models import OPEN_STATES, Case, CaseEvent, DutyAlert
from .workflow import CASE_WORKFLOW


def case_list(user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Case]:
    """The staff case list; ``filters``: state, category, kind, channel, region (path), unit (id),
    received_from / received_to (dates), overdue, mine ("assigned" / "unit" / "filed"),
    q (tracking number), order ("received" / "due")."""
    filters = filters or {}
    qs: QuerySet[Case] = Case.objects.restrict(user, "view").select_related(
        "category", "community", "grid", "unit", "assignee"
    )
    state = filters.get("state")
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state:
        qs = qs.filter(state=state)
    for key in ("category", "kind", "channel"):
        value = filters.get(key)
        if value:
            qs = qs.filter(**{f"{key}_id" if key == "category" else key: value})
    region = str(filters.get("region") or "")
    if region.isdigit():
        qs = qs.filter(region_path__under=region)
    if filters.get("unit"):
        qs = qs.filter(unit_id=filters["unit"])
    # received date range (local dates, both included)
    received_from, received_to = filters.get("received_from"), filters.get("received_to")
    if isinstance(received_from, datetime.date):
        qs = qs.filter(received_at__gte=_local_midnight(received_from))
    if isinstance(received_to, datetime.date):
        qs = qs.filter(received_at__lt=_local_midnight(received_to + datetime.timedelta(days=1)))
    if filters.get("overdue"):
        qs = qs.filter(state__in=OPEN_STATES, resolution_due__lt=timezone.now(), suspended_at__isnull=True)
    mine = filters.get("mine")
    if mine == "assigned":
        qs = qs.filter(assignee=user)
    elif mine == "unit":
        qs = qs.filter(unit_id=getattr(user, "unit_id", None) or 0)
    elif mine == "filed":
        qs = qs.filter(filed_by=user)
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(number=q)
    if filters.get("order") == "due":
        return qs.order_by("resolution_due", "id")
    return qs.order_by("-received_at", "-id")


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def case_detail(user: Any, action: str = "view") -> QuerySet[Case]:
    return Case.objects.restrict(user, action).select_related(
        "category", "community", "grid", "unit", "assignee", "triage_unit", "merged_into", "filed_by"
    )


def available_actions(user: Any, case: Case) -> list[Transition]:
    if not getattr(user, "is_authenticated", False):
        return []
    from .services import may_handle

    perms = user.get_all_permissions()
    actions = CASE_WORKFLOW.permitted(case.state, perms)
    if not may_handle(case, user):
        actions = [t for t in actions if t.permission != "cases.handle_case"]
    if case.suspended_at is not None:
        actions = [t for t in actions if t.action in ("resume", "comment", "supervise")]
    else:
        actions = [t for t in actions if t.action != "resume"]
    if not case.extension_requested_days:
        actions = [t for t in actions if t.action not in ("approve_extension", "deny_extension")]
    else:
        actions = [t for t in actions if t.action != "request_extension"]
    return actions


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").prefetch_related("attachments").order_by("at", "id")


def public_case(token: str) -> Case | None:
    if not token or len(token) > 64:
        return None
    return Case.objects.select_related("category", "community").filter(public_token=token).first()


def public_timeline(case: Case) -> list[CaseEvent]:
    """Only events meant for the resident; the actor is a unit label, never a staff name."""
    return list(case.events.filter(public=True).prefetch_related("attachments").order_by("at", "id"))


def duty_alerts(user: Any) -> QuerySet[DutyAlert]:
    return (
        DutyAlert.objects.restrict(user, "view")
        .filter(acknowledged_at__isnull=True)
        .select_related("case", "case__category", "case__community", "unit")
        .order_by("-created_at", "-id")
    )


def route_location(lng: float | None, lat: float | None) -> tuple[Region | None, Region | None]:
    from fengqiao.regions.locate import locate

    return locate(lng, lat)


def near_deadline(user: Any, hours: int = 24) -> QuerySet[Case]:
    """Open cases past or within ``hours`` of their resolution deadline, in scope."""
    soon = timezone.now() + datetime.timedelta(hours=hours)
    return (
        Case.objects.restrict(user, "view")
        .filter(state__in=OPEN_STATES, suspended_at__isnull=True, resolution_due__lte=soon)
        .select_related("category", "community", "unit", "assignee")
        .order_by("resolution_due")
    )


def overdue_q(now: Any = None) -> Q:
    now = now or timezone.now()
    return Q(state__in=OPEN_STATES, suspended_at__isnull=True, resolution_due__lt=now)
