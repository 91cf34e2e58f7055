"""Point-in-grid: which grid (and community) a location falls in.

One STRtree over the current grids' boundaries, built once per process.
``locate_many`` is vectorised (shapely 2 bulk query), for imports, batch
intake and benchmarks (``bench/point_in_grid.py``: ~1M points/s here).

When is the index rebuilt? Saving or deleting a grid (``Region`` post_save /
post_delete) bumps a generation counter in this process, so the next lookup
re-checks at once. Changes the signals cannot see (another process, a queryset
``update()``, a rolled-back transaction) are caught by re-checking the change
key (count and latest ``updated_at`` of the current grids, one aggregate
query) at most every ``RECHECK_SECONDS``, and a located grid that no longer
exists forces a rebuild. In between, ``locate`` costs no query for the index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from django.db.models import Count, Max, Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from .geometry import load_stored
from .models import Level, Region

#: how long a built index is trusted without asking the database whether grids changed
RECHECK_SECONDS = 30.0


@dataclass(frozen=True)
class GridIndex:
    key: tuple[int, str]
    grid_ids: np.ndarray
    community_ids: np.ndarray
    tree: shapely.STRtree
    geometries: np.ndarray

    @classmethod
    def build(
        cls,
        grid_ids: Sequence[int],
        community_ids: Sequence[int],
        geometries: Sequence[Any],
        key: tuple[int, str] = (0, ""),
    ) -> GridIndex:
        geoms = np.array(list(geometries), dtype=object)
        shapely.prepare(geoms)  # prepared polygons: much faster repeated containment tests
        return cls(
            key=key,
            grid_ids=np.asarray(grid_ids, dtype=np.int64),
            community_ids=np.asarray(community_ids, dtype=np.int64),
            tree=shapely.STRtree(geoms),
            geometries=geoms,
        )

    def locate(self, lng: float, lat: float) -> tuple[int | None, int | None]:
        hits = self.tree.query(shapely.Point(lng, lat), predicate="intersects")
        if len(hits) == 0:
            return None, None
        i = int(min(hits))  # on a shared edge, the lowest index wins: deterministic
        return int(self.grid_ids[i]), int(self.community_ids[i])

    def locate_many(self, lngs: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> np.ndarray:
        """Index into ``grid_ids`` per point, -1 where no grid contains it."""
        xs, ys = np.asarray(lngs, dtype=float), np.asarray(lats, dtype=float)
        points = shapely.points(xs, ys)
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        result = np.full(xs.shape[0], -1, dtype=np.int64)
        if len(point_idx) == 0:
            return result
        if np.any(point_idx[1:] < point_idx[:-1]):  # shapely returns them grouped by point; make sure
            order = np.argsort(point_idx, kind="stable")
            point_idx, geom_idx = point_idx[order], geom_idx[order]
        # keep the lowest grid index per point (matches ``locate``): one minimum per run of equal points
        starts = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        result[point_idx[starts]] = np.minimum.reduceat(geom_idx, starts)
        return result


_lock = threading.Lock()
_index: GridIndex | None = None
_generation = 0  # bumped by the signals below
_checked: tuple[int, float] = (-1, 0.0)  # (generation, monotonic time) of the last check


def _grids_changed(sender: Any, instance: Region, **kwargs: Any) -> None:
    global _generation
    if instance.level == Level.GRID:
        _generation += 1


post_save.connect(_grids_changed, sender=Region, dispatch_uid="regions.locate.grid_saved")
post_delete.connect(_grids_changed, sender=Region, dispatch_uid="regions.locate.grid_deleted")


def _current_grids() -> Any:
    today = timezone.localdate()
    return Region.objects.filter(level=Level.GRID).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))


def _key() -> tuple[int, str]:
    agg = _current_grids().aggregate(n=Count("id"), latest=Max("updated_at"))
    return int(agg["n"] or 0), str(agg["latest"] or "")


def _build(key: tuple[int, str]) -> GridIndex:
    grid_ids, community_ids, geoms = [], [], []
    rows = _current_grids().exclude(boundary__isnull=True).values_list("id", "parent_id", "boundary")
    for grid_id, parent_id, boundary in rows:
        geometry = load_stored(boundary)
        if geometry is None or geometry.is_empty:
            continue
        grid_ids.append(grid_id)
        community_ids.append(parent_id or 0)
        geoms.append(geometry)
    return GridIndex.build(grid_ids, community_ids, geoms, key=key)


def grid_index(*, recheck: bool = False) -> GridIndex:
    """The current index; asks the database only after a grid change, every RECHECK_SECONDS, or on ``recheck``."""
    global _index, _checked
    generation, now = _generation, time.monotonic()
    index = _index
    if index is not None and not recheck and _checked[0] == generation and now - _checked[1] < RECHECK_SECONDS:
        return index
    key = _key()
    with _lock:
        if _index is None or _index.key != key:
            _index = _build(key)
        _checked = (generation, now)
        return _index


def locate(lng: float | None, lat: float | None) -> tuple[Region | None, Region | None]:
    """(grid, community) containing the point, or (None, None)."""
    if lng is None or lat is None:
        return None, None
    grid_id, _community_id = grid_index().locate(float(lng), float(lat))
    grid = Region.objects.select_related("parent").filter(pk=grid_id).first() if grid_id is not None else None
    if grid_id is not None and grid is None:
        # the index knew a grid the database no longer has (removed elsewhere): rebuild and ask again
        grid_id, _community_id = grid_index(recheck=True).locate(float(lng), float(lat))
        grid = Region.objects.select_related("parent").filter(pk=grid_id).first() if grid_id is not None else None
    if grid is None:
        return None, None
    return grid, grid.parent
