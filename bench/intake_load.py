"""Benchmark (issue 3): public intake under a bounded local load, on PostgreSQL.

Starts gunicorn on 127.0.0.1 against a dedicated PostgreSQL database and
drives it from client threads on the same machine, alternating between

- ``intake``: the real resident report form (``POST /r/<community>/`` with
  CSRF, a signed idempotency key, a category, a description and a location):
  every check that needs no routing, then one row in the intake inbox
  (``fengqiao.intake.services.receive_report``; the write-behind inbox, see
  docs/decisions/0002-write-behind-intake.md), and
- ``bare``: a plain Django view that writes one row (``/bench/bare-write/``).

Each target gets the same number of rounds of the same length, interleaved;
we report submissions per second and p50/p95 latency per target and their
ratio. Targets (issue 3): intake at least half the bare endpoint's throughput,
p95 under 200 ms. Load stays on loopback and is bounded in time.

No task worker runs during the rounds, so the reports pile up in the inbox.
Afterwards ``--drain-workers`` processes drain that backlog
(``intake.services.drain_inbox``: batches of 200 with one point-in-grid query,
the case, number, event, alert, audit row and notification task per report) and
we report cases created per second: the inbox keeps up when that rate is above
the intake rate.

    .venv/bin/python bench/intake_load.py [--workers 4] [--clients 8] [--seconds 8] [--rounds 3] [--drain-workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import ROOT, django_setup, ensure_pg_database, summary

DB_URL = "postgres://postgres@127.0.0.1:5432/fengqiao_bench_intake"


def prepare() -> dict[str, object]:
    from django.core.management import call_command
    from django.db import connection

    from fengqiao.cases.categories import ensure_default_categories
    from fengqiao.cases.models import Category
    from fengqiao.regions.models import Level, Region
    from fengqiao.system.models import Parameter
    from fengqiao.system.selectors import invalidate_parameter
    from fengqiao.workdays.services import seed_from_chinese_calendar

    call_command("migrate", verbosity=0)
    if not Region.objects.filter(level=Level.GRID).exists():
        call_command("load_demo_district", residents_per_grid=0, verbosity=0)
    ensure_default_categories()
    seed_from_chinese_calendar()
    # the load comes from one address: switch the per-client limits off for the run
    Parameter.objects.update_or_create(
        key="intake.rate_limits",
        defaults={"name": "bench", "value_type": "json", "value": {"submit": [0, 600], "view": [0, 60]}},
    )
    invalidate_parameter("intake.rate_limits")
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial primary key, body text, created_at timestamptz)"
        )
    grid = Region.objects.filter(level=Level.GRID, boundary__isnull=False).order_by("path").first()
    if grid is None or grid.parent is None:
        raise SystemExit("the demo district has no grid with a boundary")
    category = Category.objects.get(code="environment", district__isnull=True)
    return {
        "community": grid.parent.code,
        "lng": grid.centroid_lng,
        "lat": grid.centroid_lat,
        "category": category.pk,
    }


def clear_inbox() -> int:
    """Drain what an earlier run left in the inbox and drop queued drain tasks (nobody runs them here)."""
    from django_tasks_db.models import DBTaskResult

    from fengqiao.intake.services import drain_inbox

    DBTaskResult.objects.all().delete()
    return drain_inbox(seconds=600).created


def drain_child() -> None:
    """One drain worker (a child process): drain until the inbox is empty, print what it did."""
    from fengqiao.intake.services import drain_inbox

    start = time.time()
    result = drain_inbox(seconds=3600)
    print(json.dumps({**result.as_dict(), "start": start, "end": time.time()}))


def measure_drain(workers: int) -> dict[str, float]:
    from fengqiao.intake.models import Submission, SubmissionStatus

    backlog = Submission.objects.filter(status=SubmissionStatus.PENDING).count()
    env = dict(os.environ, DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="fengqiao.settings.dev", FENGQIAO_DEBUG="0")
    env["FENGQIAO_LOG_LEVEL"] = "WARNING"
    procs = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--drain-child"], cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        for _ in range(workers)
    ]
    outputs = [json.loads((p.communicate()[0] or b"{}").decode().strip().splitlines()[-1]) for p in procs]
    # from the first worker's first claim to the last worker that registered something (start-up excluded)
    busy = [o for o in outputs if int(o.get("created", 0))] or outputs
    elapsed = max(float(o["end"]) for o in busy) - min(float(o["start"]) for o in outputs)
    created = sum(int(o.get("created", 0)) for o in outputs)
    failed = sum(int(o.get("failed", 0)) for o in outputs)
    left = Submission.objects.filter(status=SubmissionStatus.PENDING).count()
    return {
        "backlog": backlog,
        "workers": workers,
        "cases_created": created,
        "failed": failed,
        "left_pending": left,
        "seconds": round(elapsed, 2),
        "cases_per_second": round(created / elapsed, 1) if elapsed else 0.0,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DJANGO_SETTINGS_MODULE="fengqiao.settings.dev",
        FENGQIAO_DEBUG="0",
        FENGQIAO_BENCH_ENDPOINTS="1",
        FENGQIAO_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "fengqiao.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def warm_up(port: int, community: str, workers: int) -> None:
    """Load every gunicorn worker (imports, URL conf, grid index) before anything is timed."""
    for _ in range(workers * 3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", f"/r/{community}/")
        conn.getresponse().read()
        conn.close()


class Client(threading.Thread):
    def __init__(self, port: int, target: str, ctx: dict[str, object], stop_at: float) -> None:
        super().__init__(daemon=True)
        self.port, self.target, self.ctx, self.stop_at = port, target, ctx, stop_at
        from fengqiao.intake.forms import new_idempotency_key

        # A phone gets its idempotency key in the rendered form: sign them before the clock runs,
        # so the client threads (on the same 2 cores) don't spend the server's CPU on signing.
        self.keys = [new_idempotency_key() for _ in range(2000)] if target == "intake" else []
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        from fengqiao.intake.forms import new_idempotency_key

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        form_path = f"/r/{self.ctx['community']}/"
        cookie, token = "", ""
        if self.target == "intake":
            conn.timeout = 60  # the first page of a cold worker on a busy machine
            conn.request("GET", form_path)
            response = conn.getresponse()
            body = response.read().decode()
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            cookies = response.headers.get_all("Set-Cookie") or []
            cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            token = match.group(1) if match else ""
        keys = self.keys
        n = 0
        while time.perf_counter() < self.stop_at:
            n += 1
            if self.target == "intake":
                fields = {
                    "csrfmiddlewaretoken": token,
                    "idempotency_key": keys[n] if n < len(keys) else new_idempotency_key(),
                    "category": str(self.ctx["category"]),
                    "description": f"楼道里堆满了杂物，影响通行（压测 {n}）",
                    "lng": str(self.ctx["lng"]),
                    "lat": str(self.ctx["lat"]),
                    "anonymous": "on",
                }
                path, ok = form_path, {302, 303}
            else:
                fields = {"description": f"楼道里堆满了杂物（压测 {n}）"}
                path, ok = "/bench/bare-write/", {200}
            body_bytes = urllib.parse.urlencode(fields).encode()
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                "Referer": f"http://127.0.0.1:{self.port}{form_path}",
                "Origin": f"http://127.0.0.1:{self.port}",
            }
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body_bytes, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.errors += 1
                continue
            elapsed = (time.perf_counter() - start) * 1000
            if status in ok:
                self.latencies.append(elapsed)
            else:
                self.errors += 1
        conn.close()


@dataclass
class Totals:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0

    def add(self, other: Totals) -> None:
        self.latencies += other.latencies
        self.ok += other.ok
        self.errors += other.errors
        self.seconds += other.seconds

    def report(self) -> dict[str, float]:
        s = summary(self.latencies) if self.latencies else {"median_ms": 0.0, "p95_ms": 0.0, "min_ms": 0.0}
        return {
            "requests_ok": self.ok,
            "errors": self.errors,
            "per_second": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(s["median_ms"], 1),
            "p95_ms": round(s["p95_ms"], 1),
            "mean_ms": round(statistics.fmean(self.latencies), 1) if self.latencies else 0.0,
        }


def run_round(port: int, target: str, ctx: dict[str, object], clients: int, seconds: float) -> Totals:
    threads = [Client(port, target, ctx, 0.0) for _ in range(clients)]
    stop_at = time.perf_counter() + seconds
    for t in threads:
        t.stop_at = stop_at
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Totals(
        latencies=[x for t in threads for x in t.latencies],
        ok=sum(len(t.latencies) for t in threads),
        errors=sum(t.errors for t in threads),
        seconds=time.perf_counter() - started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target (interleaved)")
    parser.add_argument("--drain-workers", type=int, default=2, help="processes draining the backlog afterwards")
    parser.add_argument("--drain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain_child:
        django_setup(DB_URL)
        drain_child()
        return
    ensure_pg_database(DB_URL)
    django_setup(DB_URL)
    ctx = prepare()
    clear_inbox()
    from fengqiao.cases.models import Case
    from fengqiao.intake.models import Submission

    cases_before = Case.objects.count()
    received_before = Submission.objects.count()
    port = free_port()
    server = start_server(port, args.workers)
    totals = {"intake": Totals(), "bare": Totals()}
    try:
        warm_up(port, str(ctx["community"]), args.workers)
        run_round(port, "intake", ctx, 2, 1.5)  # warm up both paths
        run_round(port, "bare", ctx, 2, 1.5)
        for i in range(args.rounds):
            for target in ("intake", "bare") if i % 2 == 0 else ("bare", "intake"):
                totals[target].add(run_round(port, target, ctx, args.clients, args.seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    intake, bare = totals["intake"].report(), totals["bare"].report()
    ratio = round(intake["per_second"] / bare["per_second"], 3) if bare["per_second"] else 0.0
    received = Submission.objects.count() - received_before
    drain = measure_drain(args.drain_workers)
    result = {
        "workers": args.workers,
        "clients": args.clients,
        "intake": intake,
        "bare": bare,
        "throughput_ratio": ratio,
        "reports_received": received,
        "drain": drain,
        "cases_created": Case.objects.count() - cases_before,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"target intake >= 0.5x bare throughput: {'PASS' if ratio >= 0.5 else 'FAIL'}")
    print(f"target intake p95 < 200 ms: {'PASS' if intake['p95_ms'] < 200 else 'FAIL'}")
    keeps_up = drain["cases_per_second"] >= intake["per_second"]
    print(f"drain keeps up with intake ({drain['cases_per_second']}/s vs {intake['per_second']}/s): {keeps_up}")


if __name__ == "__main__":
    main()
