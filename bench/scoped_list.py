"""Benchmark (issue 2): a data-scope restricted list of 1,000,000 residents on PostgreSQL.

Measures the first page (25 rows) and the total count of the staff resident
list for a street-level user (role scope "own unit and below", ~10% of the
rows), against the same query without the scope filter, interleaved in one
run. Target: scoped within 1.5x of unscoped.

    .venv/bin/python bench/scoped_list.py [--rows 1000000] [--repeat 40] [--database-url URL] [--rebuild]

The data are synthetic (1 district, 10 streets, 100 communities, 1,000 grids,
rows spread evenly); the encrypted columns hold one real ciphertext repeated,
since the list never decrypts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import DEFAULT_PG, django_setup, ensure_pg_database, summary

STREETS, COMMUNITIES, GRIDS = 10, 10, 10  # per parent


def build(rows: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from fengqiao.accounts.models import Role, User
    from fengqiao.core import crypto
    from fengqiao.regions.models import Level, Region
    from fengqiao.registry.models import Resident
    from fengqiao.units.models import Unit, UnitKind

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE registry_resident, registry_household CASCADE")
    with transaction.atomic():
        User.objects.all().delete()
        Role.objects.all().delete()
        Unit.objects.all().delete()
        Region.objects.filter(level=Level.GRID).delete()
        Region.objects.filter(level=Level.COMMUNITY).delete()
        Region.objects.filter(level=Level.STREET).delete()
        Region.objects.filter(level=Level.COUNTY).delete()
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
        grids = Region.objects.bulk_create(
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
        street_unit = Unit.objects.create(
            name="街道综治中心",
            code="bench-street-1",
            kind=UnitKind.CENTRE,
            region=streets[0],
            region_path=streets[0].path,
        )
        from django.contrib.auth.models import Permission

        view = Permission.objects.get(content_type__app_label="registry", codename="view_resident")
        role = Role.objects.create(code="street_centre", name="街道综治中心", data_scope="unit_and_below")
        role.permissions.add(view)
        user = User.objects.create_user("street_bench", password="x-bench-only", unit=street_unit)
        user.roles.add(role)

    grid_ids = [g.pk for g in grids]
    grid_paths = [g.path for g in grids]
    token = crypto.encrypt("张三", context="registry.Resident.name")
    # Build one INSERT ... SELECT over generate_series; every column the model
    # has gets its Python default unless set explicitly here.
    explicit = {
        "grid_id": "gm.grid_id",
        "region_path": "gm.path",
        "name": "%(token)s",
        "name_masked": "'张*'",
        "name_index": "md5(g::text) || md5('n' || g::text)",
        "id_number": "%(token)s",
        "id_number_masked": "'440399********' || lpad((g %% 10000)::text, 4, '0')",
        "id_number_index": "md5('i' || g::text) || md5(g::text)",
        "phone": "%(token)s",
        "phone_masked": "'138****' || lpad((g %% 10000)::text, 4, '0')",
        "phone_index": "md5('p' || g::text) || md5(g::text)",
        "created_at": "now()",
        "updated_at": "now()",
    }
    columns, values, params = [], [], {"token": token}
    for field in Resident._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.attname in explicit:
            values.append(explicit[field.attname])
        else:
            key = f"d_{field.attname}"
            default = field.get_default()
            params[key] = default
            values.append(f"%({key})s")
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_grid_map")
        cur.execute("CREATE TEMP TABLE bench_grid_map (n int primary key, grid_id bigint, path varchar(15))")
        cur.executemany(
            "INSERT INTO bench_grid_map VALUES (%s, %s, %s)",
            [(i, gid, path) for i, (gid, path) in enumerate(zip(grid_ids, grid_paths, strict=True))],
        )
        sql = (
            f"INSERT INTO registry_resident ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, {int(rows)}) g "
            f"JOIN bench_grid_map gm ON gm.n = (g %% {len(grid_ids)})"
        )
        start = time.perf_counter()
        cur.execute(sql, params)
        cur.execute("VACUUM ANALYZE registry_resident")  # steady state, as autovacuum leaves it
        print(f"loaded {rows:,} residents in {time.perf_counter() - start:.1f} s")


def run(repeat: int) -> dict[str, object]:
    from django.db import connection

    from fengqiao.accounts.models import User
    from fengqiao.registry import selectors
    from fengqiao.registry.models import Resident

    user_pk = User.objects.get(username="street_bench").pk
    total = Resident.objects.count()

    def scoped() -> tuple[int, int]:
        user = User.objects.select_related("unit").get(pk=user_pk)  # a request loads its user afresh
        qs = selectors.resident_list(user, {})
        return len(list(qs[:25])), qs.count()

    def unscoped() -> tuple[int, int]:
        qs = Resident.objects.select_related("grid").order_by("region_path", "id")
        return len(list(qs[:25])), qs.count()

    def street_like() -> tuple[int, int]:
        # the same street scope written as LIKE '440399001%' (what the range lookup replaces)
        qs = Resident.objects.filter(region_path__startswith="440399001")
        qs = qs.select_related("grid").order_by("region_path", "id")
        return len(list(qs[:25])), qs.count()

    def district_scope() -> tuple[int, int]:
        # worst case for the filter: a scope that covers every row (district level)
        qs = Resident.objects.filter(region_path__under="440399")
        qs = qs.select_related("grid").order_by("region_path", "id")
        return len(list(qs[:25])), qs.count()

    variants = {
        "scoped": scoped,
        "unscoped": unscoped,
        "street_like_prefix": street_like,
        "district_scope_all_rows": district_scope,
    }

    scoped_rows = scoped()
    unscoped_rows = unscoped()
    for _ in range(3):  # warm caches
        for fn in variants.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(2)
    for _ in range(repeat):
        rng.shuffle(order)  # interleave in random order so drift hits all alike
        for name in order:
            start = time.perf_counter()
            variants[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    user = User.objects.get(pk=user_pk)
    with connection.cursor() as cur:
        sql, params = selectors.resident_list(user, {})[:25].query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    s, u = summary(samples["scoped"]), summary(samples["unscoped"])
    return {
        "rows_total": total,
        "rows_in_scope": scoped_rows[1],
        "first_page_rows": [scoped_rows[0], unscoped_rows[0]],
        "scoped": s,
        "unscoped": u,
        "ratio_median": s["median_ms"] / u["median_ms"],
        "ratio_p95": s["p95_ms"] / u["p95_ms"],
        "other_variants": {
            name: {
                **summary(samples[name]),
                "ratio_median_vs_unscoped": summary(samples[name])["median_ms"] / u["median_ms"],
            }
            for name in ("street_like_prefix", "district_scope_all_rows")
        },
        "scoped_first_page_plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--rebuild", action="store_true", help="reload the data even if present")
    args = parser.parse_args()
    if args.database_url.startswith("postgres"):
        ensure_pg_database(args.database_url)
    django_setup(args.database_url)
    from django.core.management import call_command

    from fengqiao.registry.models import Resident

    call_command("migrate", verbosity=0)
    if args.rebuild or Resident.objects.count() != args.rows:
        build(args.rows)
    result = run(args.repeat)
    plan = result.pop("scoped_first_page_plan")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print("scoped first-page plan:\n" + str(plan))
    verdict = "PASS" if float(result["ratio_median"]) <= 1.5 else "FAIL"  # type: ignore[arg-type]
    print(f"target scoped <= 1.5x unscoped (median): {verdict}")


if __name__ == "__main__":
    main()
