from __future__ import annotations

import os
import signal
import threading
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from fengqiao.audit.models import AuditBlock
from fengqiao.audit.services import record
from fengqiao.audit.tests import scheduled_tasks
from fengqiao.core.tasks_schedule import Scheduler, load_schedule

pytestmark = pytest.mark.django_db

PING = "fengqiao.audit.tests.scheduled_tasks.ping"
PONG = "fengqiao.audit.tests.scheduled_tasks.pong"


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    scheduled_tasks.CALLS.clear()


def test_once_enqueues_every_task() -> None:
    out = StringIO()
    with override_settings(FENGQIAO_SCHEDULE={PING: 30, PONG: 3600}):
        call_command("run_scheduler", "--once", stdout=out)
    assert sorted(scheduled_tasks.CALLS) == ["ping", "pong"]
    assert "2 of 2" in out.getvalue()


def test_configured_schedule_loads_and_seals_the_audit_log() -> None:
    entries = {e.path: e for e in load_schedule()}  # every configured task imports and is a task
    assert entries["fengqiao.audit.tasks.seal_audit_log"].interval == 30
    record("test.something")
    with override_settings(FENGQIAO_SCHEDULE={"fengqiao.audit.tasks.seal_audit_log": 30}):
        call_command("run_scheduler", "--once", stdout=StringIO())
    assert AuditBlock.objects.count() == 1


def test_due_times_follow_the_intervals() -> None:
    now = [1000.0]
    scheduler = Scheduler(load_schedule({PING: 10, PONG: 25}), clock=lambda: now[0])
    assert scheduler.run_due() == [PING, PONG]  # everything once at start
    now[0] += 5
    assert scheduler.run_due() == []
    now[0] += 5
    assert scheduler.run_due() == [PING]
    now[0] += 15
    assert scheduler.run_due() == [PING, PONG]
    assert scheduled_tasks.CALLS.count("ping") == 3


def test_a_failing_enqueue_does_not_stop_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = load_schedule({PING: 10, PONG: 10})

    def boom() -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(
        entries[0], "task", type("T", (), {"enqueue": staticmethod(boom), "get_backend": lambda s: s})()
    )
    scheduler = Scheduler(entries, clock=lambda: 0.0)
    assert scheduler.run_due() == [PONG]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({PING: 0}, "positive"),
        ({PING: "10"}, "positive"),
        ({PING: True}, "positive"),
        ({"fengqiao.audit.tests.scheduled_tasks.missing": 5}, "cannot import"),
        ({"fengqiao.audit.tests.scheduled_tasks.not_a_task": 5}, "not a task"),
    ],
)
def test_bad_schedule_is_a_clear_error(schedule: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load_schedule(schedule)
    with override_settings(FENGQIAO_SCHEDULE=schedule), pytest.raises(CommandError, match=message):
        call_command("run_scheduler", "--once", stdout=StringIO())


def test_bad_tick_is_refused() -> None:
    with pytest.raises(CommandError):
        call_command("run_scheduler", "--tick", "0", stdout=StringIO())


def test_stop_ends_the_loop() -> None:
    scheduler = Scheduler(load_schedule({PING: 3600}), tick=0.01)
    thread = threading.Thread(target=scheduler.run_forever)
    thread.start()
    scheduler.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_sigterm_stops_the_command_gracefully() -> None:
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM))
    out = StringIO()
    with override_settings(FENGQIAO_SCHEDULE={PING: 3600}):
        timer.start()
        call_command("run_scheduler", "--tick", "0.05", stdout=out)
    timer.join()
    assert "Scheduler stopped." in out.getvalue()
    assert scheduled_tasks.CALLS == ["ping"]
    assert signal.getsignal(signal.SIGTERM) == before


def test_database_backend_does_not_pile_up_waiting_copies() -> None:
    from django_tasks_db.models import DBTaskResult

    db_tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with override_settings(TASKS=db_tasks, FENGQIAO_SCHEDULE={PING: 30, PONG: 30}):
        call_command("run_scheduler", "--once", stdout=StringIO())
        call_command("run_scheduler", "--once", stdout=StringIO())  # worker not running: still queued
        assert DBTaskResult.objects.filter(task_path=PING).count() == 1
        assert DBTaskResult.objects.filter(task_path=PONG).count() == 1
        DBTaskResult.objects.filter(task_path=PING).update(status="SUCCESSFUL")
        call_command("run_scheduler", "--once", stdout=StringIO())
        assert DBTaskResult.objects.filter(task_path=PING).count() == 2
    assert scheduled_tasks.CALLS == []  # nothing ran in-process
