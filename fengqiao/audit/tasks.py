"""Background tasks of the audit log (enqueued by ``manage.py run_scheduler``)."""

from __future__ import annotations

from django_tasks import task

from .sealing import seal_pending


@task
def seal_audit_log() -> int:
    """Seal every pending audit event into blocks; returns the number of rows sealed."""
    sealed = 0
    while (block := seal_pending()) is not None:
        sealed += block.row_count
    return sealed
