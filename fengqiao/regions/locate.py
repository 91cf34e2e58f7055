"""Point-in-grid: which grid (and community) a location falls in.

One STRtree over the current grids' boundaries, built once per process and
rebuilt when grids change (the cache key is the count and the latest
``updated_at`` of current grids, one cheap query). ``locate_many`` is
vectorised (shapely 2 bulk query), for imports and benchmarks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import Count, Max, Q
from django.utils import timezone

from .geometry import load_stored
from .models import Level, Region


@dataclass(frozen=True)
class GridIndex:
    key: tuple[int, str]
    grid_ids: np.ndarray
    community_ids: np.ndarray
    tree: shapely.STRtree
    geometries: np.ndarray

    def locate(self, lng: float, lat: float) -> tuple[int | None, int | None]:
        hits = self.tree.query(shapely.Point(lng, lat), predicate="intersects")
        if len(hits) == 0:
            return None, None
        i = int(min(hits))  # on a shared edge, the lowest index wins: deterministic
        return int(self.grid_ids[i]), int(self.community_ids[i])

    def locate_many(self, lngs: Sequence[float], lats: Sequence[float]) -> np.ndarray:
        """Index into ``grid_ids`` per point, -1 where no grid contains it."""
        points = shapely.points(np.asarray(lngs, dtype=float), np.asarray(lats, dtype=float))
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        result = np.full(len(lngs), -1, dtype=np.int64)
        # keep the lowest grid index per point (matches ``locate``)
        order = np.lexsort((geom_idx, point_idx))
        point_idx, geom_idx = point_idx[order], geom_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = geom_idx[first]
        return result


_lock = threading.Lock()
_index: GridIndex | None = None


def _current_grids() -> object:
    today = timezone.localdate()
    return Region.objects.filter(level=Level.GRID).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))


def _key() -> tuple[int, str]:
    agg = _current_grids().aggregate(n=Count("id"), latest=Max("updated_at"))  # type: ignore[attr-defined]
    return int(agg["n"] or 0), str(agg["latest"] or "")


def grid_index() -> GridIndex:
    global _index
    key = _key()
    index = _index
    if index is not None and index.key == key:
        return index
    with _lock:
        if _index is not None and _index.key == key:
            return _index
        grid_ids, community_ids, geoms = [], [], []
        rows = _current_grids().exclude(boundary__isnull=True).values_list("id", "parent_id", "boundary")  # type: ignore[attr-defined]
        for grid_id, parent_id, boundary in rows:
            geometry = load_stored(boundary)
            if geometry is None or geometry.is_empty:
                continue
            grid_ids.append(grid_id)
            community_ids.append(parent_id or 0)
            geoms.append(geometry)
        geometries = np.array(geoms, dtype=object)
        _index = GridIndex(
            key=key,
            grid_ids=np.array(grid_ids, dtype=np.int64),
            community_ids=np.array(community_ids, dtype=np.int64),
            tree=shapely.STRtree(geometries),
            geometries=geometries,
        )
        return _index


def locate(lng: float | None, lat: float | None) -> tuple[Region | None, Region | None]:
    """(grid, community) containing the point, or (None, None)."""
    if lng is None or lat is None:
        return None, None
    grid_id, _community_id = grid_index().locate(float(lng), float(lat))
    if grid_id is None:
        return None, None
    grid = Region.objects.select_related("parent").get(pk=grid_id)
    return grid, grid.parent
