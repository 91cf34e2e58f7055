"""Benchmark (issue 3): the deadline sweeper over 1,000,000 cases on PostgreSQL.

Uses the synthetic cases of ``bench/cases_figures.py`` (same database; built
there, or here with ``--rebuild``): 1,000,000 cases, about 9 % of them open,
many near or past their deadline. Measures, on a copy of the state restored
before each round:

- ``first``: one sweep from scratch (the watermark cleared): every due
  reminder decided and written, every overdue case escalated once;
- ``again``: the same sweep repeated at once (idempotent: nothing new).

Before each round what a sweep wrote is deleted and the tables are VACUUMed
(the same starting point every round). Prints the rows the first sweep wrote.

Target (issue 3): one sweep in under 10 s.

    .venv/bin/python bench/sweeper.py [--rounds 3] [--rebuild] [--batch 20000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cases_figures
from bench._setup import django_setup, ensure_pg_database


def reset_sweeper_state() -> None:
    """Undo what a sweep wrote, so each round starts from the same state."""
    from django.core.cache import cache
    from django.db import connection

    from fengqiao.cases import sweeper

    with connection.cursor() as cur:
        cur.execute("DELETE FROM notifications_notification")
        cur.execute("DELETE FROM cases_dutyalert WHERE kind IN ('due_soon', 'overdue')")
        cur.execute("DELETE FROM cases_caseevent WHERE action IN ('overdue_escalate', 'remind')")
        cur.execute(
            "UPDATE cases_case SET overdue_escalated_at = NULL, supervised = false"
            " WHERE overdue_escalated_at IS NOT NULL"
        )
        # the same starting point every round: no dead rows left by the previous one (as autovacuum leaves it)
        for table in ("notifications_notification", "cases_dutyalert", "cases_caseevent", "cases_case"):
            cur.execute(f"VACUUM ANALYZE {table}")
    cache.delete(sweeper.WATERMARK_KEY)


def rows_written() -> dict[str, int]:
    """What the sweep wrote (the benchmark database holds nothing else in these tables)."""
    from django.db import connection

    counts = {}
    with connection.cursor() as cur:
        for name, sql in (
            ("case_updates", "SELECT count(*) FROM cases_case WHERE overdue_escalated_at IS NOT NULL"),
            ("events", "SELECT count(*) FROM cases_caseevent"),
            ("alerts", "SELECT count(*) FROM cases_dutyalert WHERE kind IN ('due_soon', 'overdue')"),
            ("notifications", "SELECT count(*) FROM notifications_notification"),
        ):
            cur.execute(sql)
            counts[name] = cur.fetchone()[0]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=cases_figures.DEFAULT_DB)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--batch", type=int, default=0, help="cases escalated per transaction (default: the sweeper's)")
    args = parser.parse_args()
    ensure_pg_database(args.database_url)
    django_setup(args.database_url)
    from django.core.management import call_command

    from fengqiao.cases import sweeper
    from fengqiao.cases.models import OPEN_STATES, Case

    call_command("migrate", verbosity=0)
    if args.batch:
        sweeper.ESCALATION_BATCH = args.batch
    if args.rebuild or Case.objects.count() != args.rows:
        cases_figures.build(args.rows)
    open_cases = Case.objects.filter(state__in=OPEN_STATES).count()
    first, again, last = [], [], None
    written: dict[str, int] = {}
    for _ in range(args.rounds):
        reset_sweeper_state()
        result = sweeper.sweep()
        first.append(result.seconds)
        last = result
        written = rows_written()
        again.append(sweeper.sweep().seconds)
    reset_sweeper_state()
    assert last is not None
    print(
        json.dumps(
            {
                "cases": Case.objects.count(),
                "escalation_batch": sweeper.ESCALATION_BATCH,
                "open_cases": open_cases,
                "first_sweep_s": {"median": statistics.median(first), "max": max(first)},
                "repeat_sweep_s": {"median": statistics.median(again), "max": max(again)},
                "last_first_sweep": last.as_dict() | {"escalated_numbers": len(last.escalated_numbers)},
                "rows_written_by_it": written,
            },
            indent=2,
        )
    )
    print(f"target one sweep < 10 s: {'PASS' if max(first) < 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
