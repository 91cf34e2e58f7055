"""Webhook relay and delivery throughput on PostgreSQL.

Builds a tiny district (the cases tests' small world), ``--cases`` cases with a
submit event and three workflow events each (bulk inserts, like the sweeper),
three subscribers (district-wide every event, one street, district-wide
``case.closed`` only), then times:

- the relay over the whole event log (messages + deliveries, set-based);
- sending ``--send`` deliveries to a local HTTP receiver (a threaded
  ``http.server`` answering 204) through ``dispatch_due``.

Usage: ``.venv/bin/python bench/webhooks_relay.py [--cases 20000] [--send 2000]``
(database ``fengqiao_bench_webhooks``, recreated each run).
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _setup import django_setup, ensure_pg_database

DB = "postgres://postgres@127.0.0.1:5432/fengqiao_bench_webhooks"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--send", type=int, default=2000)
    args = parser.parse_args()
    import psycopg

    with psycopg.connect(DB.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "fengqiao_bench_webhooks"')
    ensure_pg_database(DB)
    django_setup(DB)
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    settings.FENGQIAO_WEBHOOKS = dict(settings.FENGQIAO_WEBHOOKS, allow_loopback=True, pause_after_failures=10**6)

    from fengqiao.accounts.models import User
    from fengqiao.cases.models import Case, CaseEvent, Channel
    from fengqiao.cases.tests.small_world import build
    from fengqiao.webhooks.delivery import dispatch_due
    from fengqiao.webhooks.models import Delivery, DeliveryStatus, Message, Subscription
    from fengqiao.webhooks.relay import relay

    w = build()
    admin = User.objects.create_superuser("bench_admin", password="x")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    from fengqiao.webhooks.services import create_subscription

    every = ["case.created", "case.status_changed", "case.closed"]
    create_subscription(actor=admin, name="district", url=url, event_types=every, region=w.regions["440305"])
    create_subscription(actor=admin, name="street", url=url, event_types=every, region=w.regions["440305001"])
    create_subscription(actor=admin, name="closed", url=url, event_types=["case.closed"], region=w.regions["440305"])

    grids = [r for p, r in w.regions.items() if len(p) == 15]
    cat = w.categories["hazard"]
    now = timezone.now()
    started = time.perf_counter()
    cases = Case.objects.bulk_create(
        [
            Case(
                number=f"B{i:09d}",
                kind=cat.kind,
                category=cat,
                channel=Channel.QR,
                description="x",
                community=grids[i % len(grids)].parent,
                grid=grids[i % len(grids)],
                region_path=grids[i % len(grids)].path,
                triage_unit=w.units["440305001"],
                unit=w.units["440305001"],
                complexity=cat.default_complexity,
                received_at=now,
                clock_started_at=now,
            )
            for i in range(args.cases)
        ],
        batch_size=2000,
    )
    steps = [
        ("submit", "", "submitted"),
        ("handle_here", "submitted", "in_progress"),
        ("feedback", "in_progress", "review"),
        ("pass_review", "review", "closed"),
    ]
    CaseEvent.objects.bulk_create(
        [CaseEvent(case=c, at=now, action=a, from_state=f, to_state=t) for a, f, t in steps for c in cases],
        batch_size=5000,
    )
    events = CaseEvent.objects.count()
    print(f"set-up: {args.cases} cases, {events} events in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    runs = 0
    while True:
        result = relay()
        runs += 1
        if result.events_read == 0:
            break
    seconds = time.perf_counter() - started
    print(
        f"relay: {events} events → {Message.objects.count()} messages, {Delivery.objects.count()} deliveries "
        f"in {seconds:.2f} s ({runs} runs; {events / seconds:,.0f} events/s)"
    )
    started = time.perf_counter()
    relay()
    print(f"relay with nothing new: {(time.perf_counter() - started) * 1000:.1f} ms")

    pending = list(Delivery.objects.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True)[: args.send])
    Delivery.objects.filter(status=DeliveryStatus.PENDING).exclude(pk__in=pending).update(
        status=DeliveryStatus.CANCELLED
    )
    started = time.perf_counter()
    sent = 0
    while True:
        counts = dispatch_due(limit=50)
        if not counts["sent"]:
            break
        sent += counts["succeeded"]
    seconds = time.perf_counter() - started
    print(f"send: {sent} deliveries to a local receiver in {seconds:.2f} s ({sent / seconds:,.0f}/s)")
    print(f"subscribers: {list(Subscription.objects.values_list('name', flat=True))}")
    server.shutdown()


if __name__ == "__main__":
    main()
