"""Reads of the region tree, always through ``Region.objects.restrict``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from fengqiao.core.scope import ScopeSpec, scope_q

from .models import Level, Region, RegionQuerySet

PAGE_SIZE = 25


def visible(user: Any, action: str = "view", *, include_retired: bool = False) -> QuerySet[Region]:
    qs: RegionQuerySet = Region.objects.restrict(user, action)
    return qs if include_retired else qs.current()


def _current_children_q() -> Q:
    today = timezone.localdate()
    return (Q(children__valid_from__isnull=True) | Q(children__valid_from__lte=today)) & (
        Q(children__valid_to__isnull=True) | Q(children__valid_to__gt=today)
    )


def with_child_counts(qs: QuerySet[Region], *, include_retired: bool = False) -> QuerySet[Region]:
    if include_retired:
        return qs.annotate(child_count=Count("children"))
    return qs.annotate(child_count=Count("children", filter=_current_children_q()))


def roots(user: Any, *, include_retired: bool = False) -> QuerySet[Region]:
    """The top nodes the user can see: those whose parent the user cannot see."""
    seen = visible(user, include_retired=include_retired)
    top = seen.filter(Q(parent__isnull=True) | ~Q(parent__in=seen.values("pk")))
    return with_child_counts(top, include_retired=include_retired).order_by("path", "-valid_from")


def children(user: Any, region: Region, *, include_retired: bool = False) -> QuerySet[Region]:
    qs = visible(user, include_retired=include_retired).filter(parent=region)
    return with_child_counts(qs, include_retired=include_retired).order_by("path", "-valid_from")


def search(user: Any, q: str, *, include_retired: bool = False) -> QuerySet[Region]:
    qs = visible(user, include_retired=include_retired)
    q = q.strip()
    if q.isdigit():
        qs = qs.filter(code__startswith=q)
    elif q:
        qs = qs.filter(name__icontains=q)
    return with_child_counts(qs.select_related("parent"), include_retired=include_retired).order_by(
        "path", "-valid_from"
    )


def ancestors(user: Any, region: Region) -> list[Region]:
    """The breadcrumb above ``region`` that the user may see (top first)."""
    chain: list[Region] = []
    node = region.parent
    while node is not None:
        chain.append(node)
        node = node.parent
    ids = set(visible(user, include_retired=True).filter(pk__in=[n.pk for n in chain]).values_list("pk", flat=True))
    return [n for n in reversed(chain) if n.pk in ids]


def regions_where(user: Any, perm: str) -> QuerySet[Region]:
    """Regions under which the user may act with ``perm`` of another model (e.g. units.add_unit)."""
    q = scope_q(user, perm, ScopeSpec(region_path="path"))
    if q is None:
        return Region.objects.none()
    return Region.objects.current().filter(q)


def grids_of(user: Any, region: Region) -> QuerySet[Region]:
    return visible(user).filter(level=Level.GRID, path__under=region.path)


def detail_url(region: Region) -> str:
    name = "regions:grid_detail" if region.level == Level.GRID else "regions:detail"
    return reverse(name, args=[region.pk])


def map_features(user: Any, region: Region) -> dict[str, Any]:
    """GeoJSON for the map: the region, its current children and, when visible, its parent's outline."""
    from . import geometry

    features: list[dict[str, Any]] = []

    def props(node: Region, role: str) -> dict[str, Any]:
        return {
            "id": node.pk,
            "code": node.code,
            "name": node.name,
            "level": node.level,
            "level_label": str(node.get_level_display()),
            "role": role,
            "url": detail_url(node),
        }

    parent = region.parent
    if parent is not None and parent.boundary and visible(user, include_retired=True).filter(pk=parent.pk).exists():
        features.append(geometry.feature(parent.boundary, props(parent, "parent")))
    if region.boundary:
        features.append(geometry.feature(region.boundary, props(region, "self")))
    if region.level == Level.GRID and parent is not None:
        # a grid has no children: show its neighbours in the same community for context
        siblings = visible(user).filter(parent=parent, boundary__isnull=False).exclude(pk=region.pk)
        for sibling in siblings.order_by("path"):
            if sibling.boundary:
                features.append(geometry.feature(sibling.boundary, props(sibling, "sibling")))
    for child in visible(user).filter(parent=region, boundary__isnull=False).order_by("path"):
        if child.boundary:
            features.append(geometry.feature(child.boundary, props(child, "child")))
    return geometry.collection(features)
