"""Reads of the grid app; everything starts from ``restrict()``.

"Overdue" is set-based: one query over ``HouseholdTier`` with one
``(tier, last_followed_at < now - interval)`` term per tier, served by the
``(tier, last_followed_at)`` index; special-group members likewise in one
query, with the last visit to the person or their household as a subquery.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from fengqiao.cases.models import Case
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household

from . import scoring
from .models import Assessment, AssessmentModel, HouseholdTier, Visit

#: responsibilities that make a grid "mine" on the phone page
GRID_ROLES = ("grid_worker", "grid_leader", "liaison", "community_police")


def my_grids(user: Any) -> list[Region]:
    """The current grids ``user`` is responsible for (any responsibility), in path order."""
    from fengqiao.units.models import GridAssignment

    today = timezone.localdate()
    grid_ids = (
        GridAssignment.objects.filter(user_id=user.pk, role__in=GRID_ROLES, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .values("grid_id")
    )
    return list(Region.objects.filter(pk__in=grid_ids, level=Level.GRID).select_related("parent").order_by("path"))


def grids_in_scope(user: Any) -> QuerySet[Region]:
    """Grids whose households' tiers ``user`` may see (for staff with no grid of their own)."""
    from fengqiao.registry.selectors import regions_in_scope

    return regions_in_scope(user, "grid.view_householdtier", (Level.GRID,))


def follow_up_days(model: AssessmentModel | None = None) -> dict[str, int]:
    model = model or AssessmentModel.objects.filter(is_current=True).first()
    if model is None:
        return dict(scoring.DEFAULT_FOLLOW_UP_DAYS)
    return {tier: int(model.follow_up_days.get(tier, scoring.DEFAULT_FOLLOW_UP_DAYS[tier])) for tier in scoring.TIERS}


def overdue_q(days: dict[str, int], now: datetime.datetime) -> Q:
    """Households whose last follow-up is older than their tier's interval."""
    q = Q()
    for tier in scoring.TIERS:
        q |= Q(tier=tier, last_followed_at__lt=now - datetime.timedelta(days=days[tier]))
    return q


@dataclass(frozen=True)
class Overdue:
    state: HouseholdTier
    due: datetime.datetime
    days_overdue: int


def overdue_followups(
    user: Any, path: str = "", now: datetime.datetime | None = None, limit: int = 200
) -> list[Overdue]:
    """Households in ``user``'s scope (under ``path``) whose follow-up is overdue, most severe and oldest first."""
    now = now or timezone.now()
    days = follow_up_days()
    qs: QuerySet[HouseholdTier] = HouseholdTier.objects.restrict(user).filter(overdue_q(days, now))
    if path:
        qs = qs.filter(region_path__under=path)
    rows = list(qs.select_related("household").order_by("last_followed_at")[:limit])
    result = []
    for state in rows:
        due = state.last_followed_at + datetime.timedelta(days=days[state.tier])
        result.append(Overdue(state, due, max((now - due).days, 0)))
    result.sort(key=lambda o: (-scoring.SEVERITY[o.state.tier], o.due))
    return result


@dataclass(frozen=True)
class GroupOverdue:
    membership: Any
    last_visit: datetime.datetime | None
    days_overdue: int | None


def overdue_group_members(
    user: Any, path: str = "", now: datetime.datetime | None = None, limit: int = 200
) -> list[GroupOverdue]:
    """Members of special groups whose own visit frequency is overdue (never visited counts as overdue).

    A visit to the person or to their household counts. Sensitive groups only
    for users who may see them. One query for the groups, one for the members.
    """
    try:
        from fengqiao.registry.models import GroupMembership, SpecialGroup
    except ImportError:  # the registry without special groups
        return []
    now = now or timezone.now()
    today = timezone.localdate(now)
    groups = SpecialGroup.objects.filter(is_active=True)
    if not user.has_perm("registry.view_sensitive_specialgroup"):
        groups = groups.filter(sensitive=False)
    intervals = dict(groups.values_list("pk", "visit_every_days"))
    if not intervals:
        return []
    last_visit = (
        Visit.objects.filter(
            Q(resident_id=OuterRef("resident_id")) | Q(household_id=OuterRef("resident__household_id"))
        )
        .order_by("-visited_at")
        .values("visited_at")[:1]
    )
    overdue = Q()
    for group_id, days in intervals.items():
        overdue |= Q(group_id=group_id) & (
            Q(last_visit__isnull=True) | Q(last_visit__lt=now - datetime.timedelta(days=days))
        )
    qs: QuerySet[Any] = (
        GroupMembership.objects.restrict(user)
        .filter(group_id__in=list(intervals), since__lte=today)
        .filter(Q(until__isnull=True) | Q(until__gte=today))
    )
    if path:
        qs = qs.filter(resident__region_path__under=path)
    qs = qs.annotate(last_visit=Subquery(last_visit)).filter(overdue).select_related("resident", "group")
    result = []
    for m in qs.order_by("group__sort_order", "resident_id")[:limit]:
        last = m.last_visit
        due_days = intervals[m.group_id]
        days_over = None if last is None else max((now - last).days - due_days, 0)
        result.append(GroupOverdue(m, last, days_over))
    return result


def tier_counts(user: Any, path: str = "") -> dict[str, int]:
    """Households per tier in scope (under ``path``), plus "unassessed"."""
    qs: QuerySet[HouseholdTier] = HouseholdTier.objects.restrict(user)
    households: QuerySet[Household] = Household.objects.restrict(user)
    if path:
        qs = qs.filter(region_path__under=path)
        households = households.filter(region_path__under=path)
    counts = dict.fromkeys(scoring.TIERS, 0)
    for row in qs.order_by().values("tier").annotate(n=Count("pk")):
        counts[row["tier"]] = row["n"]
    counts["unassessed"] = households.filter(tier_state__isnull=True).count()
    return counts


def households_to_visit(user: Any, path: str, limit: int = 50) -> QuerySet[Household]:
    """Households of the grid never assessed yet."""
    return (
        Household.objects.restrict(user)
        .filter(region_path__under=path, tier_state__isnull=True)
        .order_by("number")[:limit]
    )


def open_cases(user: Any, path: str, limit: int = 50) -> QuerySet[Case]:
    return (
        Case.objects.restrict(user, "view")
        .open()
        .filter(region_path__under=path)
        .select_related("category")
        .order_by("-received_at")[:limit]
    )


def household_tiers(user: Any, region: Region | None = None) -> list[dict[str, Any]]:
    """Current tier per household in ``user``'s scope (under ``region``): id, lng, lat, tier.

    For map layers (the district grid map, "my grid"); households without a
    position are left out.
    """
    qs: QuerySet[HouseholdTier] = HouseholdTier.objects.restrict(user).filter(
        household__lng__isnull=False, household__lat__isnull=False
    )
    if region is not None:
        qs = qs.filter(region_path__under=region.path)
    return [
        {"id": pk, "lng": lng, "lat": lat, "tier": tier}
        for pk, lng, lat, tier in qs.order_by("region_path", "household_id").values_list(
            "household_id", "household__lng", "household__lat", "tier"
        )
    ]


def household_map_points(user: Any, path: str) -> list[dict[str, Any]]:
    """Every household of a grid with a position: id, number, lng, lat, tier ("" = not assessed)."""
    rows: QuerySet[Any] = (
        Household.objects.restrict(user)
        .filter(region_path__under=path, lng__isnull=False, lat__isnull=False)
        .order_by("number")
        .values_list("pk", "number", "lng", "lat", "tier_state__tier")
    )
    return [
        {"id": pk, "number": number, "lng": lng, "lat": lat, "tier": tier or ""} for pk, number, lng, lat, tier in rows
    ]


def tier_state(user: Any, household: Household) -> HouseholdTier | None:
    return (
        HouseholdTier.objects.restrict(user)
        .select_related("assessment", "assessment__model", "case")
        .filter(household=household)
        .first()
    )


def assessments(user: Any, household: Household) -> QuerySet[Assessment]:
    return (
        Assessment.objects.restrict(user)
        .filter(household=household)
        .select_related("model", "assessed_by", "case")
        .order_by("assessed_at", "id")
    )


def visits(user: Any, household: Household | None = None, *, flagged: bool = False) -> QuerySet[Visit]:
    qs: QuerySet[Visit] = Visit.objects.restrict(user).select_related(
        "household", "visitor", "grid", "located_grid", "resident"
    )
    if household is not None:
        qs = qs.filter(household=household)
    if flagged:
        qs = qs.filter(outside_grid=True)
    return qs.prefetch_related("photos").order_by("-visited_at", "-id")
