"""Benchmark (issue 3): public intake under a bounded local load, on PostgreSQL.

Starts gunicorn on 127.0.0.1 against a dedicated PostgreSQL database and
drives it from client threads on the same machine, alternating between

- ``intake``: the real resident report form (``POST /r/<community>/`` with
  CSRF, a signed idempotency key, a category, a description and a location:
  validation, point-in-grid routing, deadlines, the case, its event, a duty
  alert and the audit row, all in one transaction), and
- ``bare``: a plain Django view that writes one row (``/bench/bare-write/``).

Each target gets the same number of rounds of the same length, interleaved;
we report submissions per second and p50/p95 latency per target and their
ratio. Targets (issue 3): intake at least half the bare endpoint's throughput,
p95 under 200 ms. Load stays on loopback and is bounded in time.

    .venv/bin/python bench/intake_load.py [--workers 4] [--clients 8] [--seconds 8] [--rounds 3]
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


class Client(threading.Thread):
    def __init__(self, port: int, target: str, ctx: dict[str, object], stop_at: float) -> None:
        super().__init__(daemon=True)
        self.port, self.target, self.ctx, self.stop_at = port, target, ctx, stop_at
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        from fengqiao.intake.forms import new_idempotency_key

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        form_path = f"/r/{self.ctx['community']}/"
        cookie, token = "", ""
        if self.target == "intake":
            conn.request("GET", form_path)
            response = conn.getresponse()
            body = response.read().decode()
            cookies = response.headers.get_all("Set-Cookie") or []
            cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            token = match.group(1) if match else ""
        n = 0
        while time.perf_counter() < self.stop_at:
            n += 1
            if self.target == "intake":
                fields = {
                    "csrfmiddlewaretoken": token,
                    "idempotency_key": new_idempotency_key(),
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
    stop_at = time.perf_counter() + seconds
    threads = [Client(port, target, ctx, stop_at) for _ in range(clients)]
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
    args = parser.parse_args()
    ensure_pg_database(DB_URL)
    django_setup(DB_URL)
    ctx = prepare()
    from fengqiao.cases.models import Case

    cases_before = Case.objects.count()
    port = free_port()
    server = start_server(port, args.workers)
    totals = {"intake": Totals(), "bare": Totals()}
    try:
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
    result = {
        "workers": args.workers,
        "clients": args.clients,
        "intake": intake,
        "bare": bare,
        "throughput_ratio": ratio,
        "cases_created": Case.objects.count() - cases_before,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"target intake >= 0.5x bare throughput: {'PASS' if ratio >= 0.5 else 'FAIL'}")
    print(f"target intake p95 < 200 ms: {'PASS' if intake['p95_ms'] < 200 else 'FAIL'}")


if __name__ == "__main__":
    main()
