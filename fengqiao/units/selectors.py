"""Reads of units and grid responsibility, always through ``restrict``."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from fengqiao.regions.models import Level, Region
from fengqiao.regions.selectors import regions_where

from .models import GridAssignment, Unit

PAGE_SIZE = 25


def region_prefix(user: Any, text: str) -> str | None:
    """The path prefix of a region filter typed by the user: a code, a code prefix or a name.

    "" means no filter; None means nothing matches.
    """
    text = text.strip()
    if not text:
        return ""
    visible: QuerySet[Region] = Region.objects.restrict(user, "view").current()
    if text.isdigit():
        region = visible.filter(code=text).first()
        return region.path if region is not None else text
    region = visible.filter(name=text).order_by("level", "path").first() or (
        visible.filter(name__icontains=text).order_by("level", "path").first()
    )
    return region.path if region is not None else None


def unit_list(user: Any, filters: dict[str, str]) -> QuerySet[Unit]:
    qs: QuerySet[Unit] = Unit.objects.restrict(user, "view").select_related("region", "parent")
    kind = filters.get("kind")
    if kind:
        qs = qs.filter(kind=kind)
    prefix = region_prefix(user, filters.get("region", ""))
    if prefix is None:
        return qs.none()
    if prefix:
        qs = qs.filter(region_path__under=prefix)
    status = filters.get("status", "active")
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    q = filters.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    return qs.order_by("region_path", "kind", "name")


def assignment_list(user: Any, filters: dict[str, str]) -> QuerySet[GridAssignment]:
    qs: QuerySet[GridAssignment] = GridAssignment.objects.restrict(user, "view").select_related(
        "grid", "user", "user__unit"
    )
    role = filters.get("role")
    if role:
        qs = qs.filter(role=role)
    grid = filters.get("grid", "").strip()
    if grid:
        prefix = region_prefix(user, grid)
        if prefix is None:
            return qs.none()
        qs = qs.filter(region_path__under=prefix)
    if filters.get("history") != "1":
        today = timezone.localdate()
        qs = qs.filter(valid_from__lte=today).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
    unit = filters.get("unit", "")
    if unit.isdigit():
        qs = qs.filter(user__unit_id=int(unit))
    return qs.order_by("region_path", "role", "valid_from")


def unit_regions(user: Any, perm: str = "units.add_unit") -> QuerySet[Region]:
    """Current regions where the user may place a unit."""
    return regions_where(user, perm).exclude(level=Level.GRID)


def parent_unit_choices(user: Any) -> QuerySet[Unit]:
    return Unit.objects.restrict(user, "view").filter(is_active=True).order_by("region_path", "name")


def assignable_grids(user: Any) -> QuerySet[Region]:
    return regions_where(user, "units.add_gridassignment").filter(level=Level.GRID)


def assignable_people(user: Any) -> QuerySet[Any]:
    """People the user may assign: active accounts in an active unit the user can see."""
    from django.contrib.auth import get_user_model

    units: QuerySet[Unit] = Unit.objects.restrict(user, "view").filter(is_active=True)
    return (
        get_user_model()
        .objects.filter(is_active=True, unit__in=units)
        .select_related("unit")
        .order_by("unit__region_path", "unit__name", "username")
    )
