"""Benchmark (issue 5): import 100,000 residents from Excel with validation and encryption.

Generates an .xlsx of valid residents of the demo district (the demo
generator's people: ID numbers with real region codes and check digits,
mobile numbers, households with addresses, grid codes; about 3% in a special
group), then imports it through ``fengqiao.registry.imports.import_residents``
as the district centre, on PostgreSQL and on SQLite, and prints seconds and
rows/s per phase (read, validate, dedupe, write = encrypt + insert) and in
total. Between runs the imported rows are deleted. Target: under 60 s in total.

    .venv/bin/python bench/resident_import.py [--rows 100000] [--repeat 3] [--db both|pg|sqlite]
        [--database-url URL] [--sqlite PATH] [--fresh]

Each database runs in its own process (Django is set up once per process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import ROOT, django_setup, ensure_pg_database

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/fengqiao_bench_import"
DEFAULT_SQLITE = str(Path(tempfile.gettempdir()) / "fengqiao_bench_import.sqlite3")
PHASES = ("read", "validate", "dedupe", "write")


def make_workbook(rows: int, path: str) -> None:
    from fengqiao.core.excel import write_workbook
    from fengqiao.demo.generator import TOTAL_GRIDS, build_plan
    from fengqiao.registry.groups import DEFAULT_GROUPS

    per_grid = -(-rows // TOTAL_GRIDS)
    plan = build_plan(residents_per_grid=per_grid)
    households = {h.number: h for h in plan.households}
    names = [name for _code, name, *_rest in DEFAULT_GROUPS]
    headers = ["姓名", "身份证号", "性别", "出生日期", "联系电话", "网格编码", "户号", "住址", "与户主关系", "特殊人群"]

    def lines() -> Iterator[list[object]]:
        for i, r in enumerate(plan.residents[:rows]):
            yield [
                r.name,
                r.id_number,
                "男" if r.gender == "M" else "女",
                r.birth_date,
                r.phone,
                r.grid_path,
                r.household_number,
                households[r.household_number].address,
                r.relation,
                names[i % len(names)] if i % 33 == 0 else "",
            ]

    write_workbook(path, headers, lines(), title="居民")


def prepare() -> object:
    from django.core.management import call_command

    from fengqiao.accounts.models import User

    call_command("migrate", verbosity=0)
    call_command("load_demo_district", residents_per_grid=0, cases=0, verbosity=0)
    wipe()
    return User.objects.get(username="district_centre")


def wipe() -> None:
    from django.db import transaction

    from fengqiao.demo.generator import DISTRICT_PATH
    from fengqiao.registry.models import GroupMembership, Household, Place, Resident

    with transaction.atomic():
        GroupMembership.objects.filter(resident__region_path__startswith=DISTRICT_PATH).delete()
        Place.objects.filter(region_path__startswith=DISTRICT_PATH).delete()
        Resident.objects.filter(region_path__startswith=DISTRICT_PATH).delete()
        Household.objects.filter(region_path__startswith=DISTRICT_PATH).delete()


def recreate(database_url: str) -> None:
    """Start from an empty database (after migrations of other apps were rewritten)."""
    if database_url.startswith("postgres"):
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    else:
        Path(database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)


def run_one(database_url: str, rows: int, repeat: int, label: str, fresh: bool = False) -> dict[str, object]:
    if fresh:
        recreate(database_url)
    if database_url.startswith("postgres"):
        ensure_pg_database(database_url)
    django_setup(database_url)
    from fengqiao.registry.imports import import_residents

    actor = prepare()
    path = str(Path(tempfile.gettempdir()) / f"fengqiao_bench_residents_{rows}.xlsx")
    if not Path(path).exists():
        start = time.perf_counter()
        make_workbook(rows, path)
        size = Path(path).stat().st_size / 1e6
        print(f"[{label}] generated {path} ({size:.1f} MB) in {time.perf_counter() - start:.1f} s")
    runs = []
    for n in range(repeat):
        wipe()
        start, cpu_start = time.perf_counter(), time.process_time()
        load_before = os.getloadavg()[0]
        with open(path, "rb") as handle:
            result = import_residents(handle, actor=actor)
        total = time.perf_counter() - start
        cpu_total = time.process_time() - cpu_start
        if not result.ok:
            raise SystemExit(f"import failed: {[str(e) for e in result.errors[:10]]}")
        assert result.created == rows, result.created
        timings = {k: round(v, 2) for k, v in result.timings.items()}
        cpu = {k: round(v, 2) for k, v in result.cpu_timings.items()}
        runs.append({"total": round(total, 2), **timings, "cpu_total": round(cpu_total, 2)})
        load = max(load_before, os.getloadavg()[0])
        print(
            f"[{label}] run {n + 1}: {total:.1f} s wall, {cpu_total:.1f} s CPU of this process; "
            f"wall {timings}; CPU {cpu}; households {len(result.new_households)}; load average {load:.1f}"
        )
    wipe()
    medians = {key: statistics.median(r[key] for r in runs) for key in ("total", *PHASES, "cpu_total")}
    return {
        "database": label,
        "rows": rows,
        "runs": repeat,
        "median_s": {k: round(v, 2) for k, v in medians.items()},
        "rows_per_s": {k: round(rows / v) for k, v in medians.items() if v},
        "target_met": medians["total"] < 60,
        "note": "cpu_total: CPU seconds of the importing process (excludes the database server)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", choices=("both", "pg", "sqlite"), default="both")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--sqlite", default=DEFAULT_SQLITE)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the benchmark databases first")
    args = parser.parse_args()
    if args.db == "both":
        for db in ("pg", "sqlite"):
            cmd = [sys.executable, __file__, "--db", db, "--rows", str(args.rows), "--repeat", str(args.repeat)]
            cmd += ["--database-url", args.database_url, "--sqlite", args.sqlite]
            cmd += ["--fresh"] if args.fresh else []
            subprocess.run(cmd, check=True, cwd=ROOT, env=os.environ.copy())
        return
    if args.db == "pg":
        summary = run_one(args.database_url, args.rows, args.repeat, "postgresql", args.fresh)
    else:
        summary = run_one(f"sqlite:///{args.sqlite}", args.rows, args.repeat, "sqlite", args.fresh)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
