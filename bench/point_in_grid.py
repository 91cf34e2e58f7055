"""Benchmark (issue 5): point-in-grid for 1,000,000 random points over 1,000 grids.

The grids are 1,000 irregular, non-overlapping polygons: a Voronoi tessellation
of 1,000 jittered seeds over a district-sized box (about 11 × 9 km near
Shenzhen), with wobbly edges (each cell's edges densified and moved inwards
by a random amount, so neighbours leave thin gaps between them, as real grid
boundaries drawn by hand do) and 3% of the cells removed (holes). The points
are uniform over a box 10% larger than the district, so some fall outside
every grid (outside the district, in a hole or in a gap between grids).

Measured in one run, the three interleaved in each of ``--repeat`` rounds, medians
(wall time, and the process's CPU time, which a loaded shared machine disturbs less):
- ``GridIndex.locate_many`` (``fengqiao/regions/locate.py``: STRtree + shapely 2
  vectorised bulk query) over all points;
- ``GridIndex.locate`` point by point (the per-report path of the intake) on a
  subsample;
- brute force: for each point, a Python loop over all 1,000 polygons (first
  one that intersects), on a subsample of ``--brute`` points, extrapolated to
  points/s (it is linear in the number of points).
Both brute force and ``locate`` are checked to give exactly the answers of
``locate_many`` on their subsample.

    .venv/bin/python bench/point_in_grid.py [--points 1000000] [--grids 1000] [--repeat 5] [--brute 2000]

No database: the index is built from geometries in memory, as ``locate`` builds
it from the grids' stored boundaries (the build time is printed too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BOX = (113.90, 22.50, 114.00, 22.58)  # lng/lat of the district's bounding box


def make_grids(n: int, seed: int) -> list[shapely.Polygon]:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = BOX
    side = int(np.ceil(np.sqrt(n * 1.03)))
    xs, ys = np.meshgrid(np.linspace(minx, maxx, side), np.linspace(miny, maxy, side))
    cell = (maxx - minx) / side
    seeds = np.column_stack([xs.ravel(), ys.ravel()]) + rng.uniform(-0.35, 0.35, (side * side, 2)) * cell
    frame = shapely.box(*BOX)
    parts = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame)), frame
    )
    cells: list[shapely.Polygon] = [c for c in parts if isinstance(c, shapely.Polygon) and not c.is_empty]
    rng.shuffle(cells)
    keep = cells[: round(n / 0.97)]
    holes = set(rng.choice(len(keep), size=len(keep) - n, replace=False).tolist())
    grids = []
    for i, c in enumerate(keep):
        if i in holes:
            continue
        # wobbly edges: densify, then shrink each vertex towards the centroid by 0-4% of the cell size
        dense = shapely.segmentize(c, cell / 6)
        coords = np.asarray(dense.exterior.coords)
        centre = np.asarray(c.centroid.coords[0])
        shrink = rng.uniform(0.0, 0.04, (len(coords), 1))
        shrink[-1] = shrink[0]
        moved = coords + (centre - coords) * shrink
        poly = shapely.make_valid(shapely.Polygon(moved))
        if not isinstance(poly, shapely.Polygon):
            poly = max(shapely.get_parts(poly), key=lambda g: g.area)
        # keep it inside the original cell: neighbours never overlap
        poly = shapely.intersection(poly, c)
        if not isinstance(poly, shapely.Polygon):
            poly = max(shapely.get_parts(poly), key=lambda g: g.area)
        grids.append(poly)
    return grids[:n]


def brute_force(polys: list[shapely.Polygon], lngs: np.ndarray, lats: np.ndarray) -> np.ndarray:
    out = np.full(len(lngs), -1, dtype=np.int64)
    for k in range(len(lngs)):
        p = shapely.Point(float(lngs[k]), float(lats[k]))
        for i, poly in enumerate(polys):
            if poly.intersects(p):
                out[k] = i
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--brute", type=int, default=2_000, help="points of the brute-force subsample")
    parser.add_argument("--seed", type=int, default=20260515)
    args = parser.parse_args()

    from fengqiao.regions.locate import GridIndex

    t0 = time.perf_counter()
    polys = make_grids(args.grids, args.seed)
    made = time.perf_counter() - t0
    union_area = float(shapely.area(shapely.union_all(polys)))
    overlap = sum(float(p.area) for p in polys) - union_area
    assert len(polys) == args.grids, len(polys)
    assert overlap < 1e-12, f"grids overlap ({overlap})"
    vertices = int(np.mean([len(p.exterior.coords) for p in polys]))

    t0 = time.perf_counter()
    index = GridIndex.build(list(range(1, len(polys) + 1)), [0] * len(polys), polys)
    index.tree.query(shapely.Point(0, 0))  # the STRtree is built lazily: include it
    built = (time.perf_counter() - t0) * 1000

    rng = np.random.default_rng(args.seed + 1)
    minx, miny, maxx, maxy = BOX
    dx, dy = (maxx - minx) * 0.05, (maxy - miny) * 0.05
    lngs = rng.uniform(minx - dx, maxx + dx, args.points)
    lats = rng.uniform(miny - dy, maxy + dy, args.points)

    sub = np.arange(args.brute)  # the points are random: the first ones are a random subsample
    single_n = min(args.points, 20_000)
    wall: dict[str, list[float]] = {"vec": [], "brute": [], "single": []}
    cpu: dict[str, list[float]] = {"vec": [], "brute": [], "single": []}
    result = brute = single = np.empty(0)

    def one_by_one() -> np.ndarray:
        found = [index.locate(float(lngs[k]), float(lats[k]))[0] for k in range(single_n)]
        return np.array([-1 if g is None else g - 1 for g in found])

    # interleaved: each repeat runs all three, so a noisy neighbour slows them alike
    for _ in range(args.repeat):
        for name in ("vec", "brute", "single"):
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "vec":
                result = index.locate_many(lngs, lats)
            elif name == "brute":
                brute = brute_force(polys, lngs[sub], lats[sub])
            else:
                single = one_by_one()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    outside = int((result == -1).sum())
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    vec_rate, brute_rate = args.points / med["vec"], args.brute / med["brute"]
    same_brute = bool(np.array_equal(brute, result[sub]))
    same_single = bool(np.array_equal(single, result[:single_n]))
    report = {
        "grids": len(polys),
        "mean_vertices_per_grid": vertices,
        "points": args.points,
        "points_outside_every_grid": outside,
        "grid_generation_s": round(made, 2),
        "index_build_ms": round(built, 1),
        "locate_many_median_s": round(med["vec"], 3),
        "locate_many_points_per_s": round(vec_rate),
        "locate_many_points_per_cpu_s": round(args.points / med_cpu["vec"]),
        "locate_one_by_one_points": single_n,
        "locate_one_by_one_points_per_s": round(single_n / med["single"]),
        "brute_force_points": args.brute,
        "brute_force_median_s": round(med["brute"], 3),
        "brute_force_points_per_s_extrapolated": round(brute_rate),
        "brute_force_points_per_cpu_s": round(args.brute / med_cpu["brute"]),
        "brute_force_all_points_s_extrapolated": round(med["brute"] / args.brute * args.points, 1),
        "speed_up_vs_brute_force": round(vec_rate / brute_rate, 1),
        "identical_to_brute_force_on_subsample": same_brute,
        "identical_to_locate_on_subsample": same_single,
        "target_met": vec_rate > 100_000 and same_brute and same_single,
    }
    print(json.dumps(report, indent=2))
    if not (same_brute and same_single):
        sys.exit(1)


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fengqiao.settings.dev")
    import django

    django.setup()
    main()
