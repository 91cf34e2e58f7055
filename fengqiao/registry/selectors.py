"""Reads of the registry. Everything starts from ``restrict()``; lists never decrypt.

``resident_list`` is the one queryset behind the resident list page, its
Excel export and the scoped-list benchmark (bench/scoped_list.py): keep its
shape ``Resident.objects.restrict(user).select_related("grid").order_by("region_path", "id")``
so the first page is served by the (region_path, id) index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from fengqiao.core.personal import index_for, normalise
from fengqiao.core.scope import ScopeSpec, scope_q
from fengqiao.regions.models import Level, Region

from .groups import SENSITIVE_PERMISSION
from .models import GroupMembership, Household, Organisation, Place, Resident, SpecialGroup

PAGE_SIZE = 25


def _path_filter(filters: Mapping[str, Any]) -> str | None:
    """The most specific region path asked for (grid, else community, else region);
    "" for none, None for a malformed one (which matches nothing)."""
    for key in ("grid", "community", "region"):
        value = str(filters.get(key) or "").strip()
        if value:
            return value if value.isdigit() and len(value) <= 15 else None
    return ""


def resident_search_q(text: str) -> Q | None:
    """Exact search through the blind indexes: ID number, phone or full name."""
    text = text.strip()
    if not text:
        return None
    q = Q(name_index=index_for("name", text))
    compact = normalise("phone", text)
    if compact.lstrip("+").isdigit():
        q |= Q(phone_index=index_for("phone", text))
    id_like = normalise("id_number", text)
    if len(id_like) in (15, 18) and id_like[:-1].isdigit():
        q |= Q(id_number_index=index_for("id_number", text))
    return q


def resident_list(user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Resident]:
    """The residents ``user`` may view, filtered; see the module docstring.

    ``filters``: ``grid`` / ``community`` / ``region`` (a region path: that
    node and everything below it) and ``q`` (exact ID number, phone or name).
    """
    filters = filters or {}
    qs: QuerySet[Resident] = Resident.objects.restrict(user).select_related("grid").order_by("region_path", "id")
    path = _path_filter(filters)
    if path is None:
        return qs.none()
    if path:
        qs = qs.filter(region_path__under=path)
    search = resident_search_q(str(filters.get("q") or ""))
    if search is not None:
        qs = qs.filter(search)
    code = str(filters.get("group") or "").strip()
    if code:
        group = visible_groups(user).filter(code=code).first()
        if group is None:
            return qs.none()
        qs = qs.filter(pk__in=current_memberships(user).filter(group=group).values("resident_id"))
    return qs


def visible_groups(user: Any) -> QuerySet[SpecialGroup]:
    """Special groups the user may see: sensitive ones only with their permission."""
    qs = SpecialGroup.objects.all()
    if not user.has_perm(SENSITIVE_PERMISSION):
        qs = qs.filter(sensitive=False)
    return qs


def current_memberships(user: Any, on: Any = None) -> QuerySet[GroupMembership]:
    """Memberships in force on ``on`` (today) of residents in the user's scope, in groups the user may see.

    The visit follow-up (fengqiao.grid) starts from here: each membership's
    ``group.visit_every_days`` is its visit frequency."""
    day = on or timezone.localdate()
    return (
        GroupMembership.objects.restrict(user)
        .filter(group__in=visible_groups(user), since__lte=day)
        .filter(Q(until__isnull=True) | Q(until__gte=day))
    )


def resident_memberships(user: Any, resident: Resident) -> QuerySet[GroupMembership]:
    """Every membership (current and past) of ``resident`` the user may see."""
    return (
        GroupMembership.objects.restrict(user)
        .filter(resident=resident, group__in=visible_groups(user))
        .select_related("group")
        .order_by("until", "-since")
    )


def resident_detail(user: Any, action: str = "view") -> QuerySet[Resident]:
    """For ``get_object_or_404(resident_detail(user), pk=pk)``."""
    return Resident.objects.restrict(user, action).select_related("grid", "grid__parent", "household")


def household_list(user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Household]:
    """Households ``user`` may view; ``q`` matches the household number exactly or a part of the address."""
    filters = filters or {}
    qs: QuerySet[Household] = Household.objects.restrict(user).select_related("grid").order_by("region_path", "number")
    path = _path_filter(filters)
    if path is None:
        return qs.none()
    if path:
        qs = qs.filter(region_path__under=path)
    text = str(filters.get("q") or "").strip()
    if text:
        qs = qs.filter(Q(number=text) | Q(address__icontains=text))
    return qs


def household_detail(user: Any, action: str = "view") -> QuerySet[Household]:
    return Household.objects.restrict(user, action).select_related("grid", "grid__parent")


def household_members(user: Any, household: Household) -> QuerySet[Resident]:
    return Resident.objects.restrict(user).filter(household=household).order_by("id")


def regions_in_scope(user: Any, perm: str, levels: tuple[int, ...]) -> QuerySet[Region]:
    """Current regions of ``levels`` inside the user's scope for ``perm`` (e.g.
    "registry.add_resident"): the grids offered in a form, the communities and
    grids offered as list filters. Uses the same data-scope rules as ``restrict()``."""
    q = scope_q(user, perm, ScopeSpec(region_path="path"))
    if q is None:
        return Region.objects.none()
    today = timezone.localdate()
    qs = Region.objects.filter(level__in=levels).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
    if q:
        qs = qs.filter(q)
    return qs.select_related("parent").order_by("path")


def grid_choices(user: Any, perm: str, community: str = "") -> QuerySet[Region]:
    qs = regions_in_scope(user, perm, (Level.GRID,))
    if community:
        qs = qs.filter(path__under=community) if community.isdigit() else qs.none()
    return qs


def community_choices(user: Any, perm: str) -> list[Region]:
    """Communities with at least one grid in scope (a grid worker's scope holds grids, not their community)."""
    parents = regions_in_scope(user, perm, (Level.GRID,)).order_by().values("parent_id")
    return list(Region.objects.filter(pk__in=parents).order_by("path"))


def _place_like_list(qs: QuerySet[Any], filters: Mapping[str, Any], kinds: list[str]) -> QuerySet[Any]:
    path = _path_filter(filters)
    if path is None:
        return qs.none()
    if path:
        qs = qs.filter(region_path__under=path)
    kind = str(filters.get("kind") or "").strip()
    if kind:
        qs = qs.filter(kind=kind) if kind in kinds else qs.none()
    text = str(filters.get("q") or "").strip()
    if text:
        q = Q(name__icontains=text) | Q(address__icontains=text)
        compact = normalise("phone", text)
        if compact.lstrip("+").isdigit():
            q |= Q(contact_phone_index=index_for("phone", text))
        if hasattr(qs.model, "credit_code"):
            q |= Q(credit_code=text.upper())
        qs = qs.filter(q)
    return qs


def place_list(user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Place]:
    """Places ``user`` may view; filters: grid / community / region, ``kind``, ``q`` (name or address
    contains, or the exact contact phone)."""
    from .models import PlaceKind

    qs: QuerySet[Place] = Place.objects.restrict(user).select_related("grid").order_by("region_path", "id")
    return _place_like_list(qs, filters or {}, list(PlaceKind.values))


def place_detail(user: Any, action: str = "view") -> QuerySet[Place]:
    return Place.objects.restrict(user, action).select_related("grid", "grid__parent", "landlord")


def place_tenants(user: Any, place: Place) -> QuerySet[Resident]:
    return Resident.objects.restrict(user).filter(rented_places=place).order_by("id")


def organisation_list(user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Organisation]:
    """Organisations ``user`` may view; as ``place_list``, and ``q`` also matches the credit code exactly."""
    from .models import OrganisationKind

    qs: QuerySet[Organisation] = (
        Organisation.objects.restrict(user).select_related("grid").order_by("region_path", "id")
    )
    return _place_like_list(qs, filters or {}, list(OrganisationKind.values))


def organisation_detail(user: Any, action: str = "view") -> QuerySet[Organisation]:
    return Organisation.objects.restrict(user, action).select_related("grid", "grid__parent")
