"""The periodic scheduler behind ``manage.py run_scheduler``.

``settings.FENGQIAO_SCHEDULE`` maps a task's dotted path (a ``django_tasks``
``@task``) to its interval in seconds. The scheduler enqueues each task when
it is due; the background worker (``manage.py db_worker``) runs it. Every
task is enqueued once at start, then every interval. With the database task
backend a task that still waits in the queue (READY) is not enqueued again,
so a stopped worker does not pile up copies. Tasks must be idempotent: the
periodic jobs sweep "everything due", they do not count on running exactly
on time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string
from django_tasks.base import Task

logger = logging.getLogger("fengqiao.scheduler")


@dataclass
class Entry:
    path: str
    task: Task[Any, Any]
    interval: float
    next_due: float = 0.0


def _fresh_connections() -> None:
    """Drop broken or expired database connections between ticks, as Django does between requests.

    Skipped inside a transaction (a test running the scheduler in its own transaction)."""
    if not connection.in_atomic_block:
        close_old_connections()


def load_schedule(schedule: Mapping[str, Any] | None = None) -> list[Entry]:
    """Resolve ``schedule`` (default ``settings.FENGQIAO_SCHEDULE``); a bad entry is a configuration error."""
    raw = settings.FENGQIAO_SCHEDULE if schedule is None else schedule
    entries: list[Entry] = []
    for path, interval in raw.items():
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ImproperlyConfigured(
                f"FENGQIAO_SCHEDULE[{path!r}]: the interval must be a positive number of seconds."
            )
        try:
            obj = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"FENGQIAO_SCHEDULE: cannot import {path!r}: {exc}") from exc
        if not isinstance(obj, Task):
            raise ImproperlyConfigured(f"FENGQIAO_SCHEDULE: {path!r} is not a task (decorate it with @task).")
        entries.append(Entry(path=path, task=obj, interval=float(interval)))
    return entries


def _already_queued(task: Task[Any, Any]) -> bool:
    """True when the database backend holds this task not yet started."""
    backend = task.get_backend()
    if type(backend).__module__.split(".")[0] != "django_tasks_db":
        return False
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().filter(task_path=task.module_path).exists()


def enqueue_entry(entry: Entry) -> bool:
    """Enqueue one task unless a copy is still waiting; True if enqueued. Errors are logged, not raised."""
    try:
        if _already_queued(entry.task):
            logger.info("scheduler: %s is still queued, not enqueued again", entry.path)
            return False
        entry.task.enqueue()
    except Exception:
        logger.exception("scheduler: enqueueing %s failed; retrying at its next interval", entry.path)
        return False
    logger.info("scheduler: enqueued %s", entry.path)
    return True


class Scheduler:
    def __init__(
        self,
        entries: list[Entry],
        tick: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = entries
        self.tick = tick
        self.clock = clock
        self.stop_event = threading.Event()

    def stop(self, *args: Any) -> None:
        self.stop_event.set()

    def run_due(self) -> list[str]:
        """Enqueue every entry that is due now; the paths enqueued."""
        now = self.clock()
        done: list[str] = []
        _fresh_connections()
        for entry in self.entries:
            if entry.next_due <= now:
                if enqueue_entry(entry):
                    done.append(entry.path)
                entry.next_due = now + entry.interval
        return done

    def run_once(self) -> list[str]:
        """Enqueue every task once, due or not."""
        for entry in self.entries:
            entry.next_due = 0.0
        return self.run_due()

    def run_forever(self) -> None:
        while not self.stop_event.is_set():
            self.run_due()
            self.stop_event.wait(self.tick)
        _fresh_connections()
