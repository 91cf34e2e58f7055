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

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from fengqiao.core.notify import Channel, Recipient, configured_channels, deliver

from .models import Notification

logger = logging.getLogger(__name__)

CLAIM_BATCH = 200


def _user_ids(users: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for user in users:
        if user is None:
            continue
        pk = user if isinstance(user, int) else getattr(user, "pk", None)
        if pk is not None and pk not in ids:
            ids.append(int(pk))
    return ids


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
    returns the number of notifications created.
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
                Notification(
                    recipient_id=pk,
                    kind=kind[:50],
                    subject=subject[:200],
                    body=body,
                    url=url[:500],
                    dedupe_key=key[:200] if key else None,
                    batch=batch,
                    created_at=now,
                )
            )
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        pks = list(Notification.objects.filter(batch=batch).values_list("pk", flat=True))
    if pks:
        transaction.on_commit(lambda: dispatch(pks))
    return len(pks)


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
