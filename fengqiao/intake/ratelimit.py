"""Per-client rate limits for the public intake pages, kept in Django's cache.

A fixed window per (bucket, client, window number): ``cache.add`` creates the
counter with the window's lifetime and ``cache.incr`` counts atomically, so it
works the same with the local-memory cache (one process) and with Redis
(every process shares the counters).

Limits, as ``(requests, seconds)`` per bucket, come from (last wins):

1. ``DEFAULT_LIMITS`` below;
2. ``settings.FENGQIAO_INTAKE_RATE_LIMITS``, e.g. ``{"submit": (20, 600)}``;
3. the system parameter ``intake.rate_limits`` (JSON, editable at run time),
   e.g. ``{"submit": [20, 600], "view": [120, 60]}``.

A limit of 0 requests switches the bucket off. The client is the TCP peer
(``REMOTE_ADDR``); behind a reverse proxy set
``settings.FENGQIAO_TRUSTED_PROXIES`` to the number of proxies in front of
Django, and the client is read from ``X-Forwarded-For`` that many hops from
the right (the part a client cannot forge).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from fengqiao.system.selectors import get_parameter

PARAMETER = "intake.rate_limits"

#: bucket → (requests, seconds)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "submit": (10, 600),  # reports, additions, ratings and reopen requests
    "view": (60, 60),  # page views and QR images
    "track": (10, 600),  # look-ups by number and phone (guessing protection)
}


class Limit(NamedTuple):
    requests: int
    seconds: int


def _coerce(value: Any) -> Limit | None:
    try:
        requests, seconds = int(value[0]), int(value[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    if requests < 0 or seconds <= 0:
        return None
    return Limit(requests, seconds)


def limits() -> dict[str, Limit]:
    result = {name: Limit(*value) for name, value in DEFAULT_LIMITS.items()}
    for source in (getattr(settings, "FENGQIAO_INTAKE_RATE_LIMITS", None), get_parameter(PARAMETER, None)):
        if not isinstance(source, dict):
            continue
        for name, value in source.items():
            limit = _coerce(value)
            if name in result and limit is not None:
                result[name] = limit
    return result


def client_id(request: HttpRequest) -> str:
    """The client's address, honouring ``FENGQIAO_TRUSTED_PROXIES`` reverse proxies."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = int(getattr(settings, "FENGQIAO_TRUSTED_PROXIES", 0) or 0)
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return remote


class Verdict(NamedTuple):
    allowed: bool
    retry_after: int
    limit: Limit | None


def hit(request: HttpRequest, bucket: str, *, now: float | None = None) -> Verdict:
    """Count one request of ``request``'s client in ``bucket``; say whether it is within the limit."""
    limit = limits().get(bucket)
    if limit is None or limit.requests == 0:
        return Verdict(True, 0, limit)
    client = hashlib.sha256(client_id(request).encode()).hexdigest()[:32]
    retry_after = count_in_window(f"fq:intake:rl:{bucket}:{client}", limit.requests, limit.seconds, now)
    return Verdict(retry_after == 0, retry_after, limit)


def count_in_window(prefix: str, requests: int, seconds: int, now: float | None = None) -> int:
    """Count one request against ``requests`` per ``seconds`` for the counter ``prefix``.

    Returns 0 within the limit, else the seconds until the window ends. Shared by every
    rate limit of the platform (public intake here, Open311 keys and addresses).
    """
    if requests <= 0:
        return 0
    now = time.time() if now is None else now
    window = int(now // seconds)
    key = f"{prefix}:{seconds}:{window}"
    cache.add(key, 0, timeout=seconds + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: start again
        cache.set(key, 1, timeout=seconds + 5)
        count = 1
    if count <= requests:
        return 0
    return max(1, int((window + 1) * seconds - now))


def too_many(request: HttpRequest, verdict: Verdict) -> HttpResponse:
    minutes = max(1, (verdict.retry_after + 59) // 60)
    response = render(request, "intake/rate_limited.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited(
    bucket: str, *, methods: tuple[str, ...] = ("GET", "HEAD", "POST")
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """View decorator: count requests with one of ``methods`` in ``bucket``; answer 429 beyond the limit.

    A view may be decorated twice (e.g. ``view`` for GET and ``submit`` for POST).
    """

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method in methods:
                verdict = hit(request, bucket)
                if not verdict.allowed:
                    return too_many(request, verdict)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
