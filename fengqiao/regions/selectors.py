"""Reads of the region tree, always through ``Region.objects.restrict``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from fengqiao.core.scope import DataScope, ScopeSpec, scope_q

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


#: the tree never opens deeper than this many levels by itself
MAX_OPEN_DEPTH = len(Level)


def _sees_all(user: Any) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return any(g.scope == DataScope.ALL for g in user.get_grants("regions.view_region"))


def own_region(user: Any) -> Region | None:
    """The region of the user's unit, when the user's scope is not "all" and the user may see it."""
    unit = getattr(user, "unit", None)
    if unit is None or _sees_all(user):
        return None
    return visible(user, include_retired=True).filter(pk=unit.region_id).first()


def _node_to_open(level: list[Region], chain: set[int]) -> Region | None:
    """On the way to the own region: the node on that path; otherwise the only node of the level."""
    if chain:
        return next((n for n in level if n.pk in chain), None)
    return level[0] if len(level) == 1 else None


def open_tree(user: Any, *, include_retired: bool = False) -> list[Region]:
    """The top nodes of the tree, with the first levels already open.

    A node that is open carries its children in ``open_children``. A user whose
    scope is not "all" finds the tree open down to the region of their unit;
    otherwise (or when that region is out of sight) the tree opens along the
    single-child chain from the top to the first region with several children,
    and that one is open too (广东省 › 深圳市 › 枫桥示范区, showing its streets).
    Deeper levels stay closed and are fetched when opened (``children``).
    """
    top = list(roots(user, include_retired=include_retired))
    target = own_region(user)
    chain: set[int] = set()
    if target is not None:
        chain = {n.pk for n in ancestors(user, target)} | {target.pk}
    level = top
    for _depth in range(MAX_OPEN_DEPTH):
        node = _node_to_open(level, chain)
        if node is None or not node.child_count:  # type: ignore[attr-defined]
            break
        below = list(children(user, node, include_retired=include_retired))
        if not below:
            break
        node.open_children = below  # type: ignore[attr-defined]
        if (target is not None and node.pk == target.pk) or (not chain and len(below) > 1):
            break
        level = below
    return top


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


# --- the district grid map --------------------------------------------------------------------


def map_grid_features(user: Any, within: Region | None = None) -> dict[str, Any]:
    """GeoJSON of the current grids in the user's scope (with a boundary), each with its open
    and overdue cases in the user's case scope: one query for the grids, one grouped query for
    the cases. ``open``/``overdue`` are null without the permission to see cases."""
    from . import geometry

    grids = visible(user).filter(level=Level.GRID, boundary__isnull=False).select_related("parent")
    if within is not None:
        grids = grids.filter(path__under=within.path)
    counts: dict[int, tuple[int, int]] | None = None
    if user.has_perm("cases.view_case"):
        from fengqiao.cases.models import OPEN_STATES, Case

        cases: QuerySet[Case] = Case.objects.restrict(user, "view").filter(state__in=OPEN_STATES, grid__isnull=False)
        if within is not None:
            cases = cases.filter(region_path__under=within.path)
        overdue = Q(suspended_at__isnull=True, resolution_due__lt=timezone.now())
        rows = cases.values("grid_id").annotate(n=Count("id"), late=Count("id", filter=overdue)).order_by()
        counts = {r["grid_id"]: (r["n"], r["late"]) for r in rows}
    features = []
    for grid in grids.order_by("path"):
        n, late = (counts or {}).get(grid.pk, (0, 0))
        props = {
            "id": grid.pk,
            "code": grid.code,
            "name": grid.name,
            "community": grid.parent.name if grid.parent else "",
            "open": n if counts is not None else None,
            "overdue": late if counts is not None else None,
        }
        features.append(geometry.feature(grid.boundary, props))  # type: ignore[arg-type]
    return geometry.collection(features)


def map_area_features(user: Any, within: Region | None = None) -> dict[str, Any]:
    """GeoJSON of the streets and communities in the user's scope (outlines on the grid map)."""
    from . import geometry

    areas = visible(user).filter(level__in=(Level.STREET, Level.COMMUNITY), boundary__isnull=False)
    if within is not None:
        areas = areas.filter(path__under=within.path)
    return geometry.collection(
        [
            geometry.feature(a.boundary, {"id": a.pk, "name": a.name, "level": a.level})  # type: ignore[arg-type]
            for a in areas.order_by("level", "path")
        ]
    )


def grid_panel(user: Any, grid: Region) -> dict[str, Any]:
    """What the map shows for one grid: its workers, open and overdue cases (in the user's scope)."""
    from fengqiao.units.models import GridAssignment

    today = timezone.localdate()
    workers: list[GridAssignment] = []
    if user.has_perm("units.view_gridassignment"):
        workers = list(
            GridAssignment.objects.restrict(user, "view")
            .filter(grid=grid, valid_from__lte=today)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
            .select_related("user")
            .order_by("role", "user__username")
        )
    panel: dict[str, Any] = {"grid": grid, "workers": workers, "cases": None}
    if user.has_perm("cases.view_case"):
        from fengqiao.cases.models import OPEN_STATES, Case

        open_cases: QuerySet[Case] = (
            Case.objects.restrict(user, "view")
            .filter(grid=grid, state__in=OPEN_STATES)
            .select_related("category")
            .order_by("resolution_due", "id")
        )
        now = timezone.now()
        overdue = Q(suspended_at__isnull=True, resolution_due__lt=now)
        totals = open_cases.aggregate(n=Count("id"), late=Count("id", filter=overdue))
        panel.update(
            cases=list(open_cases[:8]),
            open=totals["n"],
            overdue=totals["late"],
            now=now,
        )
    return panel
