"""Benchmark (issue 3): the figures page and the staff case list over 1,000,000 cases on PostgreSQL.

Measures, interleaved in random order in one run:

- ``figures_district`` / ``figures_street``: the full computation of the figures
  page (``fengqiao.cases.figures.figures``: totals + the tables per unit,
  street, community, category and month) with the page's default filters
  (this year so far), for a district-centre user (scope: the whole district)
  and a street-centre user (one street, ~10 %);
- ``list_district`` / ``list_street``: the staff case list's first page (25
  rows) and its count as the view does it (``selectors.case_list`` and the
  view's ``CappedPaginator``, which counts at most 10,001 rows).

Target (issue 3): p95 under 300 ms.

    .venv/bin/python bench/cases_figures.py [--rows 1000000] [--repeat 20] [--database-url URL] [--rebuild]

The data are synthetic: 1 district, 10 streets, 100 communities, 1,000 grids;
12 categories; cases received evenly over the last three years, 90 % closed
(most on time, most rated), 1 % not accepted or merged, 9 % open (many of them
overdue). Loaded with one ``INSERT … SELECT generate_series``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import django_setup, ensure_pg_database, summary

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/fengqiao_bench_cases"
STREETS, COMMUNITIES, GRIDS = 10, 10, 10  # per parent
CATEGORIES = 12
DAYS = 3 * 365
PERMS = ["cases.view_case", "cases.view_category", "regions.view_region"]


def build(rows: int) -> None:
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connection, transaction

    from fengqiao.accounts.models import Role, User
    from fengqiao.cases.models import Case, CaseKind, Category
    from fengqiao.regions.models import Level, Region
    from fengqiao.units.models import Unit, UnitKind

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE cases_caseevent, cases_attachment, cases_dutyalert, cases_case CASCADE")
    with transaction.atomic():
        User.objects.all().delete()
        Role.objects.all().delete()
        Category.objects.all().delete()
        Unit.objects.update(parent=None)
        Unit.objects.all().delete()
        for level in (Level.GRID, Level.COMMUNITY, Level.STREET, Level.COUNTY):
            Region.objects.filter(level=level).delete()
        county = Region.objects.create(code="440399000000", name="基准区", level=Level.COUNTY, path="440399")
        streets = Region.objects.bulk_create(
            Region(code=f"440399{s:03d}000", name=f"街道{s}", level=Level.STREET, parent=county, path=f"440399{s:03d}")
            for s in range(1, STREETS + 1)
        )
        communities = Region.objects.bulk_create(
            Region(
                code=f"{st.path}{c:03d}",
                name=f"社区{st.path[-3:]}-{c}",
                level=Level.COMMUNITY,
                parent=st,
                path=f"{st.path}{c:03d}",
            )
            for st in streets
            for c in range(1, COMMUNITIES + 1)
        )
        Region.objects.bulk_create(
            Region(
                code=f"{co.path}{g:03d}",
                name=f"网格{co.path[-6:]}-{g}",
                level=Level.GRID,
                parent=co,
                path=f"{co.path}{g:03d}",
            )
            for co in communities
            for g in range(1, GRIDS + 1)
        )

        def centre(region: Region, name: str, parent: Unit | None = None) -> Unit:
            return Unit.objects.create(
                name=name,
                code=f"bench-{region.path}",
                kind=UnitKind.CENTRE,
                region=region,
                region_path=region.path,
                parent=parent,
            )

        district_unit = centre(county, "区综治中心")
        street_units = {st.pk: centre(st, f"{st.name}综治中心", district_unit) for st in streets}
        community_units = {
            co.pk: centre(co, f"{co.name}综治中心", street_units[co.parent_id])  # type: ignore[index]
            for co in communities
        }
        kinds = [CaseKind.REPORT] * 8 + [CaseKind.PETITION] * 2 + [CaseKind.SERVICE] * 2
        categories = [
            Category.objects.create(code=f"cat{i}", name=f"类别{i}", kind=kinds[i], sort_order=i)
            for i in range(CATEGORIES)
        ]
        permissions = [
            Permission.objects.get(content_type__app_label=p.split(".")[0], codename=p.split(".")[1]) for p in PERMS
        ]
        for username, unit, code in (
            ("district_bench", district_unit, "bench_district"),
            ("street_bench", street_units[streets[0].pk], "bench_street"),
        ):
            role = Role.objects.create(code=code, name=code, data_scope="unit_and_below")
            role.permissions.set(permissions)
            user = User.objects.create_user(username, password="x-bench-only", unit=unit)
            user.roles.add(role)

    grid_rows = [
        (
            i,
            g.pk,
            g.parent_id,
            g.path,
            community_units[g.parent_id].pk,  # type: ignore[index]
            street_units[g.parent.parent_id].pk,  # type: ignore[union-attr, index]
        )
        for i, g in enumerate(Region.objects.filter(level=Level.GRID).select_related("parent").order_by("path"))
    ]
    category_rows = [(i, c.pk, c.kind) for i, c in enumerate(categories)]
    # deterministic pseudo-random numbers per row: h(k) in [0, 1000)
    h = "((g::bigint * {k} + {c}) %% 1000)::int"
    r1, r2, r3, r4 = (
        h.format(k=7919, c=13),
        h.format(k=104729, c=7),
        h.format(k=1299709, c=3),
        h.format(k=15485863, c=1),
    )
    received = f"(now() - make_interval(secs => (g::float8 / {int(rows)}) * {DAYS} * 86400))"
    state = (
        f"CASE WHEN {r1} < 5 THEN 'rejected' WHEN {r1} < 10 THEN 'merged' "
        f"WHEN {r1} < 40 THEN 'in_progress' WHEN {r1} < 70 THEN 'assigned' WHEN {r1} < 100 THEN 'submitted' "
        f"ELSE 'closed' END"
    )
    closed = f"({r1} >= 100)"
    finished = f"({r1} < 10 OR {r1} >= 100)"
    resolved_offset = f"make_interval(hours => 4 + ({r2} %% 240))"  # 4 h to 10 days: ~85 % within the 7 days
    explicit = {
        "number": "'B' || g::text",
        "public_token": "'bench-' || g::text",
        "idempotency_key": "NULL",
        "kind": "cm.kind",
        "category_id": "cm.category_id",
        "channel": "'qr'",
        "description": "'楼道堆放杂物，影响通行'",
        "extra": "'{}'::jsonb",
        "community_id": "gm.community_id",
        "grid_id": "gm.grid_id",
        "region_path": "gm.path",
        "state": state,
        "triage_unit_id": "gm.street_unit",
        "unit_id": f"CASE WHEN {r3} < 600 THEN gm.community_unit ELSE gm.street_unit END",
        "complexity": "'general'",
        "received_at": received,
        "clock_started_at": received,
        "first_response_due": f"{received} + interval '1 day'",
        "first_responded_at": f"CASE WHEN {r4} < 900 THEN {received} + make_interval(hours => 1 + ({r4} %% 30)) END",
        "resolution_due": f"{received} + interval '9 days'",
        "resolved_at": f"CASE WHEN {finished} THEN {received} + {resolved_offset} END",
        "closed_at": f"CASE WHEN {finished} THEN {received} + {resolved_offset} + interval '2 hours' END",
        "rating": f"CASE WHEN {closed} AND {r3} < 800 THEN CASE WHEN {r4} < 950 THEN 5 ELSE 2 END END",
        "resolution_outcome": (
            f"CASE WHEN {r1} < 5 THEN 'rejected' WHEN {r1} < 10 THEN 'merged' WHEN {closed} THEN 'resolved' ELSE '' END"
        ),
        "created_at": received,
        # last written when closed (or when received, for cases still open)
        "updated_at": f"CASE WHEN {finished} THEN {received} + {resolved_offset} + interval '2 hours' "
        f"ELSE {received} END",
    }
    columns, values, params = [], [], {}
    for field in Case._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.attname in explicit:
            values.append(explicit[field.attname])
        else:
            key = f"d_{field.attname}"
            params[key] = field.get_default()
            values.append(f"%({key})s")
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_grid_map")
        cur.execute(
            "CREATE TEMP TABLE bench_grid_map (n int primary key, grid_id bigint, community_id bigint, "
            "path varchar(15), community_unit bigint, street_unit bigint)"
        )
        cur.executemany("INSERT INTO bench_grid_map VALUES (%s, %s, %s, %s, %s, %s)", grid_rows)
        cur.execute("DROP TABLE IF EXISTS bench_category_map")
        cur.execute("CREATE TEMP TABLE bench_category_map (n int primary key, category_id bigint, kind varchar(10))")
        cur.executemany("INSERT INTO bench_category_map VALUES (%s, %s, %s)", category_rows)
        sql = (
            f"INSERT INTO cases_case ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, {int(rows)}) g "
            f"JOIN bench_grid_map gm ON gm.n = ((g * 37) %% {len(grid_rows)}) "
            f"JOIN bench_category_map cm ON cm.n = ((g * 11 + g / 1000) %% {len(category_rows)})"
        )
        start = time.perf_counter()
        cur.execute(sql, params)
        cur.execute("VACUUM ANALYZE cases_case")  # steady state, as autovacuum leaves it
        print(f"loaded {rows:,} cases in {time.perf_counter() - start:.1f} s")
    from fengqiao.cases.figures import refresh_rollup

    start = time.perf_counter()
    done = refresh_rollup(full=True)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE cases_casefiguremonth")
    print(
        f"built the figures rollup ({done['months']} months, {done['rows']:,} rows) "
        f"in {time.perf_counter() - start:.1f} s"
    )


def run(repeat: int) -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fengqiao.accounts.models import User
    from fengqiao.cases import figures, selectors
    from fengqiao.cases.figures import refresh_rollup
    from fengqiao.cases.figures_models import CaseFigureMonth
    from fengqiao.cases.models import Case
    from fengqiao.core.paging import CappedPaginator

    # the periodic task's incremental run after 500 cases were written (a busy few minutes)
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE cases_case SET updated_at = now() WHERE id IN "
            "(SELECT id FROM cases_case ORDER BY received_at DESC LIMIT 500)"
        )
    start = time.perf_counter()
    incremental = refresh_rollup()
    incremental_ms = (time.perf_counter() - start) * 1000
    district_pk = User.objects.get(username="district_bench").pk
    street_pk = User.objects.get(username="street_bench").pk
    params = figures.default_params()
    month = figures.FigureParams(params.end.replace(day=1), params.end, period="day")

    def load(pk: int) -> User:
        return User.objects.select_related("unit").get(pk=pk)  # a request loads its user afresh

    def figures_for(pk: int, p: figures.FigureParams = params) -> int:
        return figures.figures(load(pk), p).total.received

    def list_for(pk: int) -> int:
        page = CappedPaginator(selectors.case_list(load(pk), {}), 25).get_page(1)
        return len(list(page.object_list)) + page.paginator.count

    variants = {
        "figures_district": lambda: figures_for(district_pk),
        "figures_street": lambda: figures_for(street_pk),
        "figures_district_this_month": lambda: figures_for(district_pk, month),
        "list_district": lambda: list_for(district_pk),
        "list_street": lambda: list_for(street_pk),
    }
    checks = {name: fn() for name, fn in variants.items()}
    for _ in range(2):  # warm caches
        for fn in variants.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(3)
    for _ in range(repeat):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            variants[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    # per-query timings of one district computation, and the plan of its totals query
    with CaptureQueriesContext(connection) as ctx:
        figures.figures(load(district_pk), params)
    one = figures.figures(load(district_pk), params)
    per_query = [
        {"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:90]}
        for q in ctx.captured_queries
        if "cases_case" in q["sql"]
    ]
    with connection.cursor() as cur:
        qs = figures.cohort(load(district_pk), params).order_by()
        sql, sql_params = qs.values("id").query.sql_with_params()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM (" + sql + ") s", sql_params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    return {
        "rows_total": Case.objects.count(),
        "rollup_rows": CaseFigureMonth.objects.count(),
        "incremental_refresh": {**incremental, "ms": round(incremental_ms)},
        "period": [params.start.isoformat(), params.end.isoformat()],
        "cases_in_period_district": checks["figures_district"],
        "cases_in_period_street": checks["figures_street"],
        "district_year_sources": {"rollup_months": one.rollup_months, "live_days": one.live_days},
        **{name: summary(values) for name, values in samples.items()},
        "district_figures_queries": per_query,
        "cohort_plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--rebuild", action="store_true", help="reload the data even if present")
    args = parser.parse_args()
    if args.database_url.startswith("postgres"):
        ensure_pg_database(args.database_url)
    django_setup(args.database_url)
    from django.core.management import call_command

    from fengqiao.cases.models import Case

    call_command("migrate", verbosity=0)
    if args.rebuild or Case.objects.count() != args.rows:
        build(args.rows)
    result = run(args.repeat)
    plan = result.pop("cohort_plan")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print("cohort plan (district user):\n" + str(plan))
    timings: dict[str, Any] = result
    names = ("figures_district", "figures_street", "figures_district_this_month", "list_district", "list_street")
    worst = max(float(timings[name]["p95_ms"]) for name in names)
    print(f"target p95 < 300 ms: {'PASS' if worst < 300 else 'FAIL'} (worst p95 {worst:.0f} ms)")


if __name__ == "__main__":
    main()
