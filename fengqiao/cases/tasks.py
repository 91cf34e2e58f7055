"""Background tasks of the case loop (django.tasks)."""

from __future__ import annotations

from django_tasks import task


@task
def notify_new_case(case_id: int) -> None:
    """Tell the triage centre's staff about a new report (after the intake request returned)."""
    from .services import notify_new

    notify_new(case_id)
