"""Point-in-grid: answers, the vectorised path, and the cached index's change detection."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fengqiao.regions import locate as loc
from fengqiao.regions.models import Level

from .factories import region, square


@pytest.fixture
def grids(db):
    province = region("440000000000", "广东省", Level.PROVINCE)
    city = region("440300000000", "深圳市", Level.PREFECTURE, province)
    district = region("440305000000", "南山区", Level.COUNTY, city)
    street = region("440305001000", "粤海街道", Level.STREET, district)
    community = region("440305001001", "科技园社区", Level.COMMUNITY, street)
    g1 = region("440305001001001", "一网格", Level.GRID, community, square(113.90, 22.50))
    g2 = region("440305001001002", "二网格", Level.GRID, community, square(113.91, 22.50))
    loc.grid_index(recheck=True)
    return community, g1, g2


def test_locate_finds_grid_and_community(grids):
    community, g1, g2 = grids
    assert loc.locate(113.905, 22.505) == (g1, community)
    assert loc.locate(113.915, 22.505) == (g2, community)
    assert loc.locate(120.0, 30.0) == (None, None)
    assert loc.locate(None, 22.5) == (None, None)


def test_locate_many_matches_locate_and_prefers_lowest_index_on_shared_edge(grids):
    index = loc.grid_index()
    lngs = [113.905, 113.915, 113.91, 120.0]  # the third point is on the shared edge
    lats = [22.505, 22.505, 22.505, 30.0]
    result = index.locate_many(lngs, lats)
    expected = []
    for lng, lat in zip(lngs, lats, strict=True):
        grid_id, _ = index.locate(lng, lat)
        expected.append(-1 if grid_id is None else int(np.flatnonzero(index.grid_ids == grid_id)[0]))
    assert result.tolist() == expected
    assert result[2] == 0
    assert index.locate_many([], []).tolist() == []


def test_locate_many_against_brute_force_on_random_points():
    rng = np.random.default_rng(1)
    seeds = rng.uniform(0, 1, (60, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=shapely.box(0, 0, 1, 1)))
    polys = [shapely.intersection(c, shapely.box(0, 0, 1, 1)) for c in cells]
    index = loc.GridIndex.build(list(range(len(polys))), [0] * len(polys), polys)
    xs, ys = rng.uniform(-0.1, 1.1, 3000), rng.uniform(-0.1, 1.1, 3000)
    brute = [
        next((i for i, p in enumerate(polys) if p.intersects(shapely.Point(x, y))), -1)
        for x, y in zip(xs, ys, strict=True)
    ]
    assert index.locate_many(xs, ys).tolist() == brute


def test_repeated_lookups_do_not_query_the_grids_again(grids):
    loc.locate(113.905, 22.505)
    with CaptureQueriesContext(connection) as ctx:
        loc.locate(113.905, 22.505)
        loc.locate(113.915, 22.505)
    # one query per call: loading the grid found; none for the index's freshness
    assert len(ctx.captured_queries) == 2
    assert not any("MAX(" in q["sql"].upper() for q in ctx.captured_queries)


def test_saving_a_grid_rebuilds_the_index_at_once(grids):
    community, _g1, g2 = grids
    assert loc.locate(113.935, 22.505) == (None, None)
    g2.boundary = square(113.93, 22.50)
    g2.save()
    assert loc.locate(113.935, 22.505) == (g2, community)
    g3 = region("440305001001003", "三网格", Level.GRID, community, square(113.95, 22.50))
    assert loc.locate(113.955, 22.505) == (g3, community)


def test_changes_the_signals_miss_are_seen_after_the_recheck_interval(grids, monkeypatch):
    community, _g1, g2 = grids
    from fengqiao.regions.models import Region

    loc.locate(113.905, 22.505)
    # a bulk update (no signal; it must set updated_at itself, the change key reads it)
    Region.objects.filter(pk=g2.pk).update(boundary=square(113.97, 22.50), updated_at=timezone.now())
    assert loc.locate(113.975, 22.505) == (None, None)  # still trusted
    monkeypatch.setattr(loc, "RECHECK_SECONDS", 0.0)
    assert loc.locate(113.975, 22.505) == (g2, community)


def test_a_grid_removed_behind_the_index_back_is_not_returned(grids):
    _community, g1, _g2 = grids
    from fengqiao.regions.models import Region

    loc.locate(113.905, 22.505)
    Region.objects.filter(pk=g1.pk)._raw_delete(Region.objects.db)  # no signal
    assert loc.locate(113.905, 22.505) == (None, None)
