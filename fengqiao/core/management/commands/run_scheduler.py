"""``manage.py run_scheduler``: enqueue the periodic tasks of ``settings.FENGQIAO_SCHEDULE``.

Runs next to ``manage.py db_worker`` (see Procfile.demo); stops cleanly on
SIGTERM or SIGINT. ``--once`` enqueues every scheduled task once and exits.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fengqiao.audit.context import audit_context
from fengqiao.core.tasks_schedule import Scheduler, load_schedule


class Command(BaseCommand):
    help = "Enqueue the periodic background tasks (settings.FENGQIAO_SCHEDULE) when they are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Enqueue every scheduled task once, then exit.")
        parser.add_argument("--tick", type=float, default=1.0, help="Seconds between checks (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tick"] <= 0:
            raise CommandError("--tick must be a positive number of seconds.")
        try:
            entries = load_schedule()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        scheduler = Scheduler(entries, tick=options["tick"])
        with audit_context(source="task"):
            if options["once"]:
                done = scheduler.run_once()
                self.stdout.write(f"Enqueued {len(done)} of {len(entries)} scheduled tasks: {', '.join(done) or '-'}")
                return
            previous = {sig: signal.signal(sig, scheduler.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                for entry in entries:
                    self.stdout.write(f"Scheduling {entry.path} every {entry.interval:g} s")
                scheduler.run_forever()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            self.stdout.write("Scheduler stopped.")
