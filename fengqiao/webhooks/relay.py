"""The outbox relay: case events → webhook messages and deliveries.

The ``CaseEvent`` log is append-only and written in the same transaction as the
case change it records (``apply_action``, ``submit_case``, the sweeper's bulk
inserts alike), so it is a transactional outbox: nothing needs to hook into the
case services, and an event exists exactly when its change committed. The relay
(a periodic task, set-based) reads events after its cursor in id order, picks
those that produce webhook events (``payloads.event_types_for``), matches them
against the subscriptions (event type, region prefix, events after the
subscription was created), builds each body once (``Message``) and inserts one
``Delivery`` per matching subscription, all with ``INSERT … ON CONFLICT DO
NOTHING`` on unique keys: reading an event twice changes nothing, so a worker
that dies half way, or a second worker, loses and duplicates nothing. One relay
runs at a time (a row lock on the cursor; others skip).

Cursor gaps: see ``models.RelayCursor``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from fengqiao.cases.models import CaseEvent
from fengqiao.notifications.services import insert_rows

from .models import Delivery, DeliveryStatus, Message, RelayCursor, Subscription, new_message_uid
from .netguard import config
from .payloads import case_payloads, event_types_for

BATCH = 2000
MAX_BATCHES = 50  # per run: 100,000 events (a sweeper catch-up) are read in one run
_MESSAGE_COLUMNS = (
    "uid",
    "event_type",
    "case_event",
    "case_number",
    "region_path",
    "payload",
    "occurred_at",
    "created_at",
)
_DELIVERY_COLUMNS = (
    "subscription",
    "message",
    "status",
    "attempts",
    "cycle_failures",
    "next_attempt_at",
    "claimed_until",
    "claim_token",
    "resent",
    "last_attempt_at",
    "last_status_code",
    "last_latency_ms",
    "last_error",
    "delivered_at",
    "created_at",
)


def gap_grace() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(config().get("gap_grace_seconds", 120)))


@dataclass
class RelayResult:
    events_read: int = 0
    messages: int = 0
    deliveries: int = 0
    cursor: int = 0
    skipped: bool = False


@dataclass(frozen=True)
class _Sub:
    pk: int
    event_types: frozenset[str]
    region_path: str
    start_event_id: int
    active: bool

    def wants(self, event_id: int, event_type: str, region_path: str) -> bool:
        return (
            event_id > self.start_event_id
            and event_type in self.event_types
            and region_path.startswith(self.region_path)
        )


def _lock_cursor() -> RelayCursor | None:
    RelayCursor.objects.get_or_create(pk=1)
    qs = RelayCursor.objects.filter(pk=1)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    else:
        qs = qs.select_for_update()
    return qs.first()


def latest_event_id() -> int:
    return int(CaseEvent.objects.aggregate(top=Max("id"))["top"] or 0)


def relay(now: datetime.datetime | None = None, *, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> RelayResult:
    """Relay new case events; returns what was read and written."""
    now = now or timezone.now()
    result = RelayResult()
    # Read no further than the log's end as it was before the subscriptions were read: a subscription
    # created meanwhile starts after ``top`` (its start_event_id), so this run cannot skip past its events.
    top = latest_event_id()
    subs = [
        _Sub(pk, frozenset(types or ()), path, start, active)
        for pk, types, path, start, active in Subscription.objects.values_list(
            "pk", "event_types", "region_path", "start_event_id", "is_active"
        )
    ]
    with transaction.atomic():
        cursor = _lock_cursor()
        if cursor is None:
            result.skipped = True
            return result
        if not subs:
            # nobody listens: jump to the end of the log instead of reading it
            cursor.last_event_id = max(cursor.last_event_id, top)
            cursor.gap_from = cursor.gap_since = None
            cursor.save()
            result.cursor = cursor.last_event_id
            return result
        floor = max(cursor.last_event_id, min(s.start_event_id for s in subs))
        position = floor
        new_cursor = floor
        blocked = False
        gap: tuple[int, datetime.datetime] | None = None
        for _round in range(max_batches):
            rows = list(
                CaseEvent.objects.filter(id__gt=position, id__lte=top)
                .order_by("id")
                .values_list("id", "case_id", "at", "action", "from_state", "to_state", "case__region_path")[:batch]
            )
            if not rows:
                break
            result.events_read += len(rows)
            position = rows[-1][0]
            # the cursor moves over a gap-free run of ids (or over a gap older than the grace period)
            for row in rows:
                if blocked:
                    break
                event_id = row[0]
                if event_id != new_cursor + 1:
                    missing = new_cursor + 1
                    if cursor.gap_from == missing and cursor.gap_since and now - cursor.gap_since >= gap_grace():
                        pass  # a rolled-back insert: the id will never appear
                    else:
                        since = cursor.gap_since if cursor.gap_from == missing and cursor.gap_since else now
                        gap = (missing, since)
                        blocked = True
                        break
                new_cursor = event_id
            made = _relay_rows(rows, subs, now)
            result.messages += made[0]
            result.deliveries += made[1]
            if len(rows) < batch:
                break
        cursor.last_event_id = new_cursor
        cursor.gap_from, cursor.gap_since = gap if gap else (None, None)
        cursor.save()
        result.cursor = new_cursor
    return result


def _relay_rows(rows: list[tuple[Any, ...]], subs: list[_Sub], now: datetime.datetime) -> tuple[int, int]:
    wanted: list[tuple[int, int, datetime.datetime, str, str, str, str]] = []
    targets: dict[tuple[int, str], list[_Sub]] = {}
    for event_id, case_id, at, action, from_state, to_state, region_path in rows:
        for event_type in event_types_for(action, from_state, to_state):
            matching = [s for s in subs if s.wants(event_id, event_type, region_path or "")]
            if matching:
                wanted.append((event_id, case_id, at, action, from_state, to_state, event_type))
                targets[(event_id, event_type)] = matching
    if not wanted:
        return 0, 0
    bodies = case_payloads(wanted)
    at_by_event = {w[0]: w[2] for w in wanted}
    event_ids = {w[0] for w in wanted}
    # plain-row inserts (one JSON parameter on PostgreSQL), no model instance per row
    made_messages = insert_rows(
        Message,
        _MESSAGE_COLUMNS,
        [
            (new_message_uid(), event_type, event_id, case.number, case.region_path, body, at_by_event[event_id], now)
            for (event_id, event_type), (case, body) in bodies.items()
        ],
        ignore_conflicts=True,
    )
    ids = {
        (event_id, event_type): pk
        for pk, event_id, event_type in Message.objects.filter(case_event_id__in=event_ids).values_list(
            "pk", "case_event_id", "event_type"
        )
    }
    rows = [
        (
            sub.pk,
            ids[key],
            DeliveryStatus.PENDING.value if sub.active else DeliveryStatus.HELD.value,
            0,
            0,
            now if sub.active else None,
            None,
            "",
            False,
            None,
            None,
            None,
            "",
            None,
            now,
        )
        for key, matching in targets.items()
        for sub in matching
    ]
    made_deliveries = insert_rows(Delivery, _DELIVERY_COLUMNS, rows, ignore_conflicts=True)
    return made_messages, made_deliveries
