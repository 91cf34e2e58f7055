"""Who sees and who edits which categories of the taxonomy.

A category belongs to one district (``Category.district``) or to every
district (``district`` empty). Categories carry no region path of their own,
so the data scope is applied through the district:

- **view** (``cases.view_category``): the platform-wide categories, and those of
  every district the user's scope touches (their unit's, custom units', grids'
  district); an "all data" scope sees every category;
- **change / add / delete**: the categories of the districts the user's scope
  covers *entirely* (a district centre with "own unit and below", or "all
  data"); the platform-wide ones only with the "all data" scope. A street centre
  may read its district's taxonomy but not change it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet

from fengqiao.core.scope import DataScope, ScopeSpec, scope_q
from fengqiao.regions.models import Level, Region

from .models import Category

DISTRICT_DIGITS = 6
_REGION_PATH = ScopeSpec(region_path="path")


def _perm(action: str) -> str:
    return f"cases.{action}_category"


def _grants(user: Any, action: str) -> list[Any]:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return []
    return list(user.get_grants(_perm(action)))


def sees_everything(user: Any, action: str = "view") -> bool:
    """Superuser, or a role granting the permission with the "all data" scope."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return any(g.scope == DataScope.ALL for g in _grants(user, action))


def manageable_districts(user: Any, action: str = "change") -> QuerySet[Region]:
    """The districts whose whole region the user's ``action`` scope covers."""
    q = scope_q(user, _perm(action), _REGION_PATH)
    if q is None:
        return Region.objects.none()
    return Region.objects.filter(q, level=Level.COUNTY, valid_to__isnull=True).order_by("path")


def can_manage_global(user: Any, action: str = "change") -> bool:
    return sees_everything(user, action)


def _touched_district_paths(user: Any, action: str) -> set[str]:
    paths: set[str] = set()
    for grant in _grants(user, action):
        candidates = [grant.unit_path, *(p for _pk, p in grant.custom), *grant.grid_paths]
        paths |= {p[:DISTRICT_DIGITS] for p in candidates if p and len(p) >= DISTRICT_DIGITS}
    return paths


def visible_categories(user: Any) -> QuerySet[Category]:
    if not user.has_perm(_perm("view")):
        return Category.objects.none()
    if sees_everything(user, "view"):
        return Category.objects.all()
    return Category.objects.filter(
        Q(district__isnull=True) | Q(district__path__in=sorted(_touched_district_paths(user, "view")))
    )


def editable_categories(user: Any, action: str = "change") -> QuerySet[Category]:
    if not user.has_perm(_perm(action)):
        return Category.objects.none()
    if sees_everything(user, action):
        return Category.objects.all()
    return Category.objects.filter(district__in=manageable_districts(user, action))


def category_list(user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Category]:
    """The list page: ``filters`` q (code or name), kind, district ("global" or a region id), active ("1"/"0")."""
    filters = filters or {}
    qs = visible_categories(user).select_related("district")
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(name_en__icontains=q))
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    district = str(filters.get("district") or "")
    if district == "global":
        qs = qs.filter(district__isnull=True)
    elif district.isdigit():
        qs = qs.filter(district_id=int(district))
    active = str(filters.get("active") or "")
    if active in ("1", "0"):
        qs = qs.filter(is_active=active == "1")
    return qs.order_by(F("district__path").asc(nulls_first=True), "sort_order", "code")
