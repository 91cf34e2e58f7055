"""Tasks used by the scheduler tests."""

from __future__ import annotations

from django_tasks import task

CALLS: list[str] = []


@task
def ping() -> str:
    CALLS.append("ping")
    return "pong"


@task
def pong() -> str:
    CALLS.append("pong")
    return "ping"


def not_a_task() -> None:
    return None
