"""Background work of the webhooks (django.tasks).

``pump_webhooks`` is periodic (``FENGQIAO_SCHEDULE``, every few seconds): relay
new case events into deliveries, then send what is due. ``send_delivery`` sends
one delivery right away (test events, resends). Both are safe to run twice and
from several workers at once.
"""

from __future__ import annotations

import time
from typing import Any

from django_tasks import task

from .delivery import dispatch_due
from .relay import relay

#: one run sends for at most this long; the next run carries on
TIME_BUDGET_SECONDS = 20.0


@task
def pump_webhooks() -> dict[str, Any]:
    relayed = relay()
    started = time.monotonic()
    totals = {"sent": 0, "succeeded": 0, "failed": 0, "retrying": 0}
    while time.monotonic() - started < TIME_BUDGET_SECONDS:
        counts = dispatch_due()
        for key, value in counts.items():
            totals[key] += value
        if not counts["sent"]:
            break
    return {"events_read": relayed.events_read, "deliveries_created": relayed.deliveries, **totals}


@task
def send_delivery(delivery_id: int) -> dict[str, int]:
    return dispatch_due(ids=[delivery_id], limit=1)
