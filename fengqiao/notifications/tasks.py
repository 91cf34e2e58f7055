"""Background delivery of notifications (enqueued by ``services.notify`` after the commit)."""

from __future__ import annotations

from django_tasks import task

from .services import deliver_pending


@task
def deliver_notifications(pks: list[int]) -> int:
    """Send the notifications ``pks`` that no worker has sent yet; returns how many were sent."""
    return deliver_pending(pks)
