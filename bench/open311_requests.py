"""Benchmark (issue 4): Open311 ``GET requests.json`` over 1,000,000 stored cases on PostgreSQL.

Measures, interleaved in random order in one run, the whole request through Django
(URL routing, middleware, the view, the query, serialisation; Django's test client,
no network):

- ``open311_default``: ``GET /open311/v2/requests.json`` with no parameters: the
  spec's default window (the last 90 days) and page (the first 1,000 requests);
- ``open311_page``: the same window with ``page_size=<--page-size>`` (default 50);
- ``open311_open_code``: ``status=open&service_code=cat3`` (two filters, page_size 50);
- ``open311_explicit_window``: an explicit ``start_date``/``end_date`` 90-day window
  ending 30 days ago (page_size 50);
- ``open311_extensions``: ``extensions=true`` (the public history as ``notes``), page_size 50;
- ``api_v1_cases``: the same page from the JSON API's case list (``/api/v1/cases``,
  ``received_from`` 90 days ago, ``page_size=<--page-size>``, which also counts up to
  10,001 rows) for a district-wide user, if that endpoint exists in this checkout;
  otherwise reported as missing.

Target (issue 4): p95 under 200 ms. Prints the EXPLAIN of the default list query.

    .venv/bin/python bench/open311_requests.py [--repeat 30] [--page-size 50] [--database-url URL]
        [--rebuild [--rows 1000000]]

The data are ``bench/cases_figures.py``'s synthetic district (1,000,000 cases over
three years, 2/3 of them in public report categories); ``--rebuild`` builds them
into this script's own database.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import django_setup, ensure_pg_database, summary

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/fengqiao_bench_open311"


def explain() -> str:
    from django.db import connection

    from fengqiao.open311 import selectors

    filters = selectors.RequestFilters()
    from django.utils import timezone

    filters.end = timezone.now()
    filters.start = filters.end - selectors.MAX_WINDOW
    qs = selectors.request_queryset(filters)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cur.fetchall())


def run(repeat: int, page_size: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.urls import Resolver404, resolve
    from django.utils import timezone

    from fengqiao.accounts.models import User
    from fengqiao.cases.models import Case
    from fengqiao.open311 import services

    services.PUBLIC_RATE = (0, 60)  # measure the endpoint, not the rate limiter
    client = Client()
    end = timezone.localtime() - datetime.timedelta(days=30)
    start = end - datetime.timedelta(days=90)
    base = "/open311/v2/requests.json"
    probes: dict[str, tuple[Client, str, dict[str, str]]] = {
        "open311_default": (client, base, {}),
        "open311_page": (client, base, {"page_size": str(page_size)}),
        "open311_open_code": (client, base, {"status": "open", "service_code": "cat3", "page_size": str(page_size)}),
        "open311_explicit_window": (
            client,
            base,
            {"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": str(page_size)},
        ),
        "open311_extensions": (client, base, {"extensions": "true", "page_size": str(page_size)}),
    }
    api_note = ""
    try:
        resolve("/api/v1/cases")
        staff = Client()
        staff.force_login(User.objects.get(username="district_bench"))
        window_start = (timezone.localdate() - datetime.timedelta(days=90)).isoformat()
        probes["api_v1_cases"] = (
            staff,
            "/api/v1/cases",
            {"received_from": window_start, "page_size": str(page_size)},
        )
    except Resolver404:
        api_note = "the JSON API's /api/v1/cases does not exist in this checkout: Open311 measured alone"
    sizes: dict[str, int] = {}
    for name, (c, url, params) in probes.items():  # warm-up, and check every probe answers 200
        response = c.get(url, params)
        assert response.status_code == 200, (name, response.status_code, response.content[:300])
        sizes[name] = len(json.loads(response.content)) if name.startswith("open311") else -1
    samples: dict[str, list[float]] = {name: [] for name in probes}
    cpu: dict[str, list[float]] = {name: [] for name in probes}
    order = [name for name in probes for _ in range(repeat)]
    random.Random(4).shuffle(order)
    for name in order:
        c, url, params = probes[name]
        t0, c0 = time.perf_counter(), time.process_time()
        response = c.get(url, params)
        samples[name].append((time.perf_counter() - t0) * 1000)
        cpu[name].append((time.process_time() - c0) * 1000)
        assert response.status_code == 200
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_case")
        total = cur.fetchone()[0]
    window = Case.objects.filter(received_at__gte=timezone.now() - datetime.timedelta(days=90)).count()
    return {
        "cases": total,
        "cases_in_default_window": window,
        "rows_returned": sizes,
        "results": {name: {k: round(v, 1) for k, v in summary(s).items()} for name, s in samples.items()},
        # CPU time of the Django process alone (less sensitive to other load on the machine)
        "django_cpu_median_ms": {name: round(summary(s)["median_ms"], 1) for name, s in cpu.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "note": api_note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure_pg_database(args.database_url)
    django_setup(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.rebuild:
        from bench.cases_figures import build

        build(args.rows)
    print(explain())
    print(json.dumps(run(args.repeat, args.page_size), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
