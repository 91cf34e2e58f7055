"""Background tasks of resident intake (django.tasks)."""

from __future__ import annotations

from django_tasks import task


@task
def drain_inbox() -> dict[str, int]:
    """Register the inbox's pending reports as cases (kicked after each receipt, and scheduled)."""
    from .services import drain_inbox as drain

    return drain().as_dict()


@task
def notify_new_cases(case_ids: list[int]) -> None:
    """Tell each new case's triage centre about it (one task per drained batch; the same message
    as ``cases.tasks.notify_new_case``)."""
    from fengqiao.cases.services import notify_new

    for case_id in case_ids:
        notify_new(case_id)
