"""Login lockout: after N failed logins for one username from one IP address within
15 minutes, further attempts are refused until the window ends (or an administrator
unlocks the account). Counters live in the cache (Redis in production).

N is the system parameter ``accounts.login_max_failures`` when it exists, else the
setting ``FENGQIAO_LOGIN_MAX_FAILURES``, else 5.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 15 * 60
DEFAULT_MAX_FAILURES = 5
PARAMETER_KEY = "accounts.login_max_failures"


def max_failures() -> int:
    value: object = getattr(settings, "FENGQIAO_LOGIN_MAX_FAILURES", DEFAULT_MAX_FAILURES)
    try:
        from fengqiao.system.models import Parameter

        parameter = Parameter.objects.filter(key=PARAMETER_KEY).only("value").first()
        if parameter is not None:
            value = parameter.value
    except Exception:  # noqa: S110 - a broken parameter table must not stop logins
        pass
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return DEFAULT_MAX_FAILURES
    return number if number > 0 else DEFAULT_MAX_FAILURES


def _user_token(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _generation(username: str) -> int:
    return int(cache.get(f"fq:login:gen:{_user_token(username)}", 0))


def _key(username: str, ip: str) -> str:
    ip_token = hashlib.sha256(ip.encode()).hexdigest()[:16]
    return f"fq:login:fail:{_generation(username)}:{_user_token(username)}:{ip_token}"


def failures(username: str, ip: str) -> int:
    return int(cache.get(_key(username, ip), 0))


def is_locked(username: str, ip: str) -> bool:
    return failures(username, ip) >= max_failures()


def register_failure(username: str, ip: str) -> int:
    """Count one failed login; returns the number of failures in the current window."""
    key = _key(username, ip)
    cache.add(key, 0, WINDOW_SECONDS)  # the window starts at the first failure
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def clear(username: str, ip: str) -> None:
    cache.delete(_key(username, ip))


def unlock(username: str) -> None:
    """Forget every failure of ``username`` from every address (new key generation)."""
    key = f"fq:login:gen:{_user_token(username)}"
    cache.set(key, _generation(username) + 1, WINDOW_SECONDS * 2)
