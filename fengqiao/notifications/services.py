"""Sending notifications to staff.

``notify(users, kind, subject, body, url="", dedupe_key=None)`` stores one
``Notification`` per active user and, once the caller's transaction commits,
hands the new rows to the delivery task (``deliver_notifications``: the
background worker sends them through ``settings.FENGQIAO_NOTIFY_CHANNELS``).
With a ``dedupe_key`` a user gets that notification at most once, whoever
calls and however often (unique constraint + ``bulk_create(ignore_conflicts=True)``;
safe with two workers at once). A failing channel never breaks the caller:
delivery happens after the commit and its errors are recorded on the row.

Reading one's own notifications is personal (no data scope: a user sees only
the rows addressed to them).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from fengqiao.core.notify import Channel, Recipient, configured_channels, deliver

from .models import Notification

logger = logging.getLogger(__name__)

CLAIM_BATCH = 200
_NOTIFICATION_COLUMNS = (
    "recipient",
    "kind",
    "subject",
    "body",
    "url",
    "dedupe_key",
    "batch",
    "created_at",
    "delivered",
    "channel",
    "error",
)


def _user_ids(users: Iterable[Any]) -> list[int]:
    ids: dict[int, None] = {}  # ordered, without repeats (notify_many may pass thousands of items)
    for user in users:
        if user is None:
            continue
        pk = user if isinstance(user, int) else getattr(user, "pk", None)
        if pk is not None:
            ids[int(pk)] = None
    return list(ids)


def notify(
    users: Iterable[Any],
    kind: str,
    subject: str,
    body: str,
    url: str = "",
    dedupe_key: str | None = None,
) -> list[Notification]:
    """Store a notification for each active user (users or ids) and deliver it after the commit.

    Returns the rows this call created (without those a ``dedupe_key`` already covered).
    """
    ids = _user_ids(users)
    if not ids:
        return []
    active = list(get_user_model().objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    if not active:
        return []
    batch = uuid.uuid4()
    now = timezone.now()
    rows = [
        Notification(
            recipient_id=pk,
            kind=kind[:50],
            subject=subject[:200],
            body=body,
            url=url[:500],
            dedupe_key=dedupe_key[:200] if dedupe_key else None,
            batch=batch,
            created_at=now,
        )
        for pk in active
    ]
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(Notification.objects.filter(batch=batch).order_by("pk"))
    if created:
        pks = [n.pk for n in created]
        transaction.on_commit(lambda: dispatch(pks))
    return created


def notify_many(items: Sequence[tuple[Any, str, str, str, str, str | None]]) -> int:
    """Set-based ``notify`` for many different messages at once (the deadline sweeper).

    ``items``: ``(user or id, kind, subject, body, url, dedupe_key)``. Inactive users are skipped;
    returns the number of notifications created. The rows are written as plain tuples
    (``insert_rows``: ``INSERT … ON CONFLICT DO NOTHING``, no model instance per row), so the
    dedupe key still makes a second call — or a second worker — write nothing; the rows this call
    created (found by their ``batch``) are handed to the delivery task after the commit.
    """
    ids = _user_ids(item[0] for item in items)
    if not ids:
        return 0
    active = set(get_user_model().objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    batch = uuid.uuid4()
    now = timezone.now()
    rows = []
    for user, kind, subject, body, url, key in items:
        pk = user if isinstance(user, int) else getattr(user, "pk", None)
        if pk in active:
            rows.append(
                (
                    pk,
                    kind[:50],
                    subject[:200],
                    body,
                    url[:500],
                    key[:200] if key else None,
                    batch,
                    now,
                    False,
                    "",
                    "",
                )
            )
    if not rows:
        return 0
    with transaction.atomic():
        insert_rows(Notification, _NOTIFICATION_COLUMNS, rows, ignore_conflicts=True)
        pks = list(Notification.objects.filter(batch=batch).values_list("pk", flat=True))
    if pks:
        transaction.on_commit(lambda: dispatch(pks))
    return len(pks)


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]], *, ignore_conflicts: bool = False
) -> int:
    """Insert many rows given as plain tuples of Python values (one per field in ``names``), without
    building a model instance per row; returns the rows written (with ``ignore_conflicts``: without
    those a unique constraint turned away — ``ON CONFLICT DO NOTHING`` / ``INSERT OR IGNORE``).

    PostgreSQL: one ``INSERT … SELECT … FROM json_populate_recordset(NULL::table, %s)`` with the rows as
    one JSON parameter (the table's own column types convert the values; datetimes, UUIDs go as their
    ``str``, dicts for JSON columns as JSON). Elsewhere (SQLite): the values prepared by the fields and
    one ``executemany`` of a single-row INSERT. Defaults are not applied: give every NOT NULL column.
    (Used by ``notify_many`` and the deadline sweeper; a candidate for ``fengqiao.core``.)
    """
    if not rows:
        return 0
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    columns = [str(f.column) for f in fields]  # type: ignore[union-attr]
    ops = connection.ops
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    quoted = ", ".join(ops.quote_name(c) for c in columns)
    insert = f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(meta.db_table)} ({quoted})"
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            payload = json.dumps(
                [dict(zip(columns, row, strict=True)) for row in rows], default=str, ensure_ascii=False
            )
            source = f"json_populate_recordset(NULL::{ops.quote_name(meta.db_table)}, %s)"
            # only quoted names from the model's metadata go into the text; the data is the parameter
            cursor.execute(f"{insert} SELECT {quoted} FROM {source} {suffix}", [payload])  # noqa: S608
        else:
            values = ", ".join(["%s"] * len(fields))
            prepared = [
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]  # type: ignore[union-attr]
                for row in rows
            ]
            cursor.executemany(f"{insert} VALUES ({values}) {suffix}", prepared)
        return max(cursor.rowcount, 0)


def dispatch(pks: list[int]) -> None:
    """Hand new notifications to the background worker (or deliver them here if enqueueing fails)."""
    from .tasks import deliver_notifications

    try:
        deliver_notifications.enqueue(pks)
    except Exception:
        logger.exception("enqueueing the delivery of %d notifications failed; delivering now", len(pks))
        try:
            deliver_pending(pks)
        except Exception:
            logger.exception("delivering notifications failed")


def _claim(pks: list[int]) -> list[Notification]:
    """Mark up to ``CLAIM_BATCH`` undelivered rows as being sent by this worker; the rows claimed."""
    with transaction.atomic():
        qs = Notification.objects.filter(pk__in=pks, attempted_at__isnull=True).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs[:CLAIM_BATCH])
        if rows:
            Notification.objects.filter(pk__in=[n.pk for n in rows], attempted_at__isnull=True).update(
                attempted_at=timezone.now()
            )
    return rows


def deliver_pending(pks: Iterable[int], channels: tuple[Channel, ...] | None = None) -> int:
    """Send the notifications ``pks`` that nobody has sent yet; returns how many this call sent."""
    todo = sorted(set(pks))
    channels = configured_channels() if channels is None else channels
    user_model = get_user_model()
    sent = 0
    while todo:
        chunk, todo = todo[:CLAIM_BATCH], todo[CLAIM_BATCH:]
        rows = _claim(chunk)
        if not rows:
            continue
        users = {u.pk: u for u in user_model.objects.filter(pk__in={n.recipient_id for n in rows})}
        for n in rows:
            recipient = Recipient.from_user(users[n.recipient_id])
            results = deliver(recipient, n.subject, n.body, kind=n.kind, url=n.url, channels=channels)
            ok = [r.channel for r in results if r.ok]
            errors = [f"{r.channel}: {r.error}" for r in results if not r.ok and not r.skipped]
            n.delivered = bool(ok)
            n.channel = ",".join(ok)[:100]
            n.error = "\n".join(errors)[:2000]
        Notification.objects.bulk_update(rows, ["delivered", "channel", "error"])
        sent += len(rows)
    return sent


# --- the recipient's own actions --------------------------------------------------------------


def mark_read(user: Any, pks: Iterable[int] | None = None) -> int:
    """Mark ``user``'s notifications ``pks`` (or all of them) read; returns how many changed."""
    if not getattr(user, "is_authenticated", False):
        return 0
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    return qs.update(read_at=timezone.now())
