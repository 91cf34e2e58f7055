"""Sending deliveries: claim, post (signed), record, reschedule with back-off.

Claiming: a worker takes up to ``limit`` due deliveries (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL) and stamps them with a lease (``claimed_until``) and its
own token, then sends outside any transaction; results are written only where
the token is still its own. Two workers never send the same delivery at the same
time; a worker that dies leaves a lease that simply runs out, and the delivery is
sent again later with the same ``webhook-id`` (receivers deduplicate on it).

Retries: after a failed attempt the next one is due after ``retry_delays[n]``
seconds (default 1 min, 5 min, 30 min, 2 h, 12 h) times a random factor of
0.8–1.2 (jitter, so a receiver coming back is not hit by every retry at once);
after the last one the delivery is failed (staff can resend it). 2xx is
success; anything else, a redirect included (never followed), a timeout or a
refused address is a failure.

Auto-pause: a subscription whose attempts failed ``pause_after_failures`` times
in a row, over at least ``pause_after_seconds``, is paused (its waiting
deliveries are held, not lost) and its owner is notified.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fengqiao.core import crypto

from . import signing
from .models import PING, Attempt, Delivery, DeliveryStatus, Subscription
from .netguard import Resolver, UnsafeURL, check_url, config

logger = logging.getLogger(__name__)

DEFAULT_DELAYS = (60, 300, 1800, 7200, 43200)
SECRET_CONTEXT = "webhooks.Subscription.secret"  # noqa: S105 - associated data, not a secret
USER_AGENT = "Fengqiao-Webhooks/1.0"
EXCERPT = 500


def retry_delays() -> tuple[float, ...]:
    return tuple(float(d) for d in config().get("retry_delays", DEFAULT_DELAYS))


def timeout() -> httpx.Timeout:
    total = float(config().get("timeout", 10))
    return httpx.Timeout(total, connect=min(total, float(config().get("connect_timeout", 3))))


def next_delay(failures: int, rng: Callable[[float, float], float] = random.uniform) -> float | None:
    """Seconds until the next attempt after ``failures`` failed ones in this cycle; None: give up."""
    delays = retry_delays()
    if failures < 1 or failures > len(delays):
        return None
    return delays[failures - 1] * rng(0.8, 1.2)


def secrets_for(sub: Subscription, now: datetime.datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until it expires."""
    out = [crypto.decrypt(sub.secret, context=SECRET_CONTEXT)]
    if sub.previous_secret and sub.previous_secret_expires_at and sub.previous_secret_expires_at > now:
        out.append(crypto.decrypt(sub.previous_secret, context=SECRET_CONTEXT))
    return out


@dataclass
class Job:
    delivery_id: int
    subscription_id: int
    url: str
    body: bytes
    headers: dict[str, str]
    ping: bool


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""
    excerpt: str = ""


def claim(now: datetime.datetime, limit: int, *, ids: Sequence[int] | None = None) -> tuple[str, list[Delivery]]:
    """Take up to ``limit`` due deliveries (at most ``per_subscription`` per subscriber) for this worker."""
    token = uuid.uuid4().hex
    per_sub = int(config().get("per_subscription", 10))
    lease = datetime.timedelta(seconds=float(config().get("timeout", 10)) * 3 + 30)
    with transaction.atomic():
        qs = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        qs = qs.order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        candidates = list(qs.values_list("pk", "subscription_id")[: limit * 4])
        taken: list[int] = []
        counts: dict[int, int] = {}
        for pk, sub_id in candidates:
            if counts.get(sub_id, 0) >= per_sub:
                continue
            counts[sub_id] = counts.get(sub_id, 0) + 1
            taken.append(pk)
            if len(taken) >= limit:
                break
        if not taken:
            return token, []
        Delivery.objects.filter(pk__in=taken).update(claimed_until=now + lease, claim_token=token)
    rows = list(Delivery.objects.filter(pk__in=taken, claim_token=token).select_related("subscription", "message"))
    return token, rows


def build_job(d: Delivery, now: datetime.datetime) -> Job:
    body = d.message.payload.encode("utf-8")
    stamp = int(now.timestamp())
    hdrs = signing.headers(secrets_for(d.subscription, now), d.message.uid, stamp, body)
    hdrs.update({"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT})
    return Job(d.pk, d.subscription_id, d.subscription.url, body, hdrs, d.message.event_type == PING)


def send(client: httpx.Client, job: Job, resolve: Resolver | None = None) -> Outcome:
    """One POST; never raises."""
    try:
        target = check_url(job.url, resolve=resolve)
    except UnsafeURL as exc:
        return Outcome(ok=False, error=str(exc))
    headers = dict(job.headers, host=target.host_header)
    extensions = {"sni_hostname": target.host} if target.url.startswith("https:") else {}
    started = time.perf_counter()
    try:
        with client.stream(
            "POST", target.pinned_url, content=job.body, headers=headers, extensions=extensions
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= EXCERPT:
                    break
            latency = int((time.perf_counter() - started) * 1000)
            excerpt = b"".join(chunks)[:EXCERPT].decode("utf-8", "replace")
            code = response.status_code
    except httpx.TimeoutException:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(ok=False, latency_ms=latency, error=_("No answer within the time limit."))
    except httpx.HTTPError as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(ok=False, latency_ms=latency, error=(_("Connection failed: %(error)s") % {"error": exc})[:500])
    if 200 <= code < 300:
        return Outcome(ok=True, status_code=code, latency_ms=latency, excerpt=excerpt)
    error = (
        _("Redirects are not followed.") if 300 <= code < 400 else _("The receiver answered %(code)d.") % {"code": code}
    )
    return Outcome(ok=False, status_code=code, latency_ms=latency, error=error, excerpt=excerpt)


def record(
    d: Delivery,
    token: str,
    outcome: Outcome,
    now: datetime.datetime,
    *,
    rng: Callable[[float, float], float] = random.uniform,
) -> str:
    """Write one attempt's result; returns the delivery's new status."""
    return record_many([(d, outcome)], token, now, rng=rng)[0]


def record_many(
    items: Sequence[tuple[Delivery, Outcome]],
    token: str,
    now: datetime.datetime,
    *,
    rng: Callable[[float, float], float] = random.uniform,
) -> list[str]:
    """Write a round of results (one UPDATE per delivery, the attempts in one INSERT, one UPDATE per
    subscriber); returns each delivery's new status. A delivery whose lease another worker took over
    keeps its state; only the attempt is logged."""
    statuses: list[str] = []
    attempts: list[Attempt] = []
    succeeded: set[int] = set()
    failed: dict[int, int] = {}
    with transaction.atomic():
        for d, outcome in items:
            ping = d.message.event_type == PING
            attempts.append(
                Attempt(
                    delivery_id=d.pk,
                    at=now,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    ok=outcome.ok,
                    error=outcome.error[:500],
                    response_excerpt=outcome.excerpt[:500],
                    manual=d.resent,
                )
            )
            fields: dict[str, object] = {
                "attempts": F("attempts") + 1,
                "last_attempt_at": now,
                "last_status_code": outcome.status_code,
                "last_latency_ms": outcome.latency_ms,
                "last_error": outcome.error[:500],
                "claimed_until": None,
                "claim_token": "",
                "resent": False,
            }
            if outcome.ok:
                status = DeliveryStatus.SUCCEEDED
                fields.update(status=status, delivered_at=now, next_attempt_at=None, cycle_failures=0)
            else:
                failures = d.cycle_failures + 1
                delay = None if ping else next_delay(failures, rng)
                if delay is None:
                    status = DeliveryStatus.FAILED
                    fields.update(status=status, next_attempt_at=None, cycle_failures=failures)
                else:
                    status = DeliveryStatus.PENDING
                    fields.update(next_attempt_at=now + datetime.timedelta(seconds=delay), cycle_failures=failures)
            if not Delivery.objects.filter(pk=d.pk, claim_token=token).update(**fields):
                statuses.append(d.status)
                continue
            statuses.append(status)
            if outcome.ok:
                succeeded.add(d.subscription_id)
            elif not ping:
                failed[d.subscription_id] = failed.get(d.subscription_id, 0) + 1
        Attempt.objects.bulk_create(attempts)
        if succeeded:  # the endpoint answers: its failure count starts again
            Subscription.objects.filter(pk__in=succeeded).update(
                consecutive_failures=0, failing_since=None, last_success_at=now
            )
        for sub_id, n in failed.items():
            if sub_id not in succeeded:
                Subscription.objects.filter(pk=sub_id).update(
                    consecutive_failures=F("consecutive_failures") + n, failing_since=Coalesce("failing_since", now)
                )
    if failed:
        from .services import auto_pause_if_failing

        for sub_id in failed:
            if sub_id not in succeeded:
                auto_pause_if_failing(sub_id, now)
    return statuses


def dispatch_due(
    now: datetime.datetime | None = None,
    *,
    limit: int = 50,
    ids: Sequence[int] | None = None,
    transport: httpx.BaseTransport | None = None,
    resolve: Resolver | None = None,
) -> dict[str, int]:
    """Send the deliveries due now (or the given ones if due); returns counts by outcome."""
    now = now or timezone.now()
    token, rows = claim(now, limit, ids=ids)
    counts = {"sent": 0, "succeeded": 0, "failed": 0, "retrying": 0}
    if not rows:
        return counts
    jobs: list[tuple[Delivery, Job | None, Outcome | None]] = []
    for d in rows:
        try:
            jobs.append((d, build_job(d, now), None))
        except crypto.DecryptionError:
            jobs.append((d, None, Outcome(ok=False, error=_("The signing secret cannot be read; rotate it."))))
    workers = max(1, min(int(config().get("concurrency", 8)), len(jobs)))
    with httpx.Client(timeout=timeout(), follow_redirects=False, transport=transport, trust_env=False) as client:
        todo = [(i, job) for i, (_d, job, _o) in enumerate(jobs) if job is not None]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            language = translation.get_language()

            def run(job: Job) -> Outcome:
                with translation.override(language):  # threads do not inherit the caller's language
                    return send(client, job, resolve)

            outcomes = list(pool.map(run, [job for _i, job in todo]))
        results = dict(zip([i for i, _job in todo], outcomes, strict=True))
    statuses = record_many([(d, failed or results[i]) for i, (d, _job, failed) in enumerate(jobs)], token, now)
    for status in statuses:
        counts["sent"] += 1
        if status == DeliveryStatus.SUCCEEDED:
            counts["succeeded"] += 1
        elif status == DeliveryStatus.FAILED:
            counts["failed"] += 1
        else:
            counts["retrying"] += 1
    return counts
