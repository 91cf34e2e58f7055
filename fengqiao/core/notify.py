"""Pluggable notification channels (logging, e-mail, SMS gateway, WeCom 企业微信).

A channel delivers one message to one recipient and says how it went::

    class Channel(Protocol):
        name: str
        def send(self, recipient, subject, body, *, kind, url) -> DeliveryResult

``settings.FENGQIAO_NOTIFY_CHANNELS`` lists the channels in use (dotted paths
of classes, instantiated without arguments); the default is the logging
channel alone. Storing notifications and handing them to the channels is the
job of ``fengqiao.notifications.services.notify``; this module only talks to
the outside world. Channels never raise for a delivery problem: they return a
``DeliveryResult`` with ``ok=False`` and the error (the caller records it).

The HTTP channels post JSON with ``urllib`` and a timeout, signed with
HMAC-SHA256 over ``"{timestamp}.{body}"`` in ``X-Fengqiao-Signature`` (hex)
and ``X-Fengqiao-Timestamp`` when a secret is configured:

* ``SmsChannel``: ``settings.FENGQIAO_NOTIFY_SMS = {"url": ..., "secret": ...,
  "timeout": 5}``, body ``{"phone", "text", "kind", "url"}`` to the SMS
  gateway of the deployment; any 2xx answer is a delivery.
* ``WeComChannel``: ``settings.FENGQIAO_NOTIFY_WECOM = {"url": ..., "secret": ...,
  "timeout": 5}``, the WeCom group-robot message format (``msgtype`` "text",
  ``mentioned_mobile_list`` with the recipient's phone); WeCom answers
  ``{"errcode": 0}`` on success.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger("fengqiao.notify")

DEFAULT_CHANNELS = ["fengqiao.core.notify.LoggingChannel"]
MAX_ERROR = 500


@dataclass(frozen=True)
class Recipient:
    """Who a message is for: a staff user's contact details (channels use what they need)."""

    user_id: int | None
    username: str
    name: str = ""
    email: str = ""
    phone: str = ""

    @classmethod
    def from_user(cls, user: Any) -> Recipient:
        return cls(
            user_id=getattr(user, "pk", None),
            username=str(user.get_username()) if hasattr(user, "get_username") else str(user),
            name=str(getattr(user, "display_name", "") or ""),
            email=str(getattr(user, "email", "") or ""),
            phone=str(getattr(user, "phone", "") or ""),
        )


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    ok: bool
    skipped: bool = False  # nothing to send to (no e-mail address, no phone): not an error
    error: str = ""
    detail: str = ""

    @classmethod
    def failed(cls, channel: str, error: str) -> DeliveryResult:
        return cls(channel=channel, ok=False, error=error[:MAX_ERROR])

    @classmethod
    def skip(cls, channel: str, why: str) -> DeliveryResult:
        return cls(channel=channel, ok=False, skipped=True, detail=why)


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> DeliveryResult: ...


class LoggingChannel:
    """Writes each notification to the logger ``fengqiao.notify`` (the default channel)."""

    name = "log"

    def send(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> DeliveryResult:
        logger.info("notify %s to=%s subject=%s url=%s", kind, recipient.username, subject, url)
        return DeliveryResult(channel=self.name, ok=True)


class EmailChannel:
    """E-mail through Django's ``send_mail`` (``EMAIL_*`` settings, ``DEFAULT_FROM_EMAIL``)."""

    name = "email"

    def send(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> DeliveryResult:
        if not recipient.email:
            return DeliveryResult.skip(self.name, "no e-mail address")
        text = body if not url else f"{body}\n\n{absolute_url(url)}"
        try:
            send_mail(subject[:200], text, None, [recipient.email], fail_silently=False)
        except Exception as exc:  # SMTP errors, refused addresses, timeouts
            return DeliveryResult.failed(self.name, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(channel=self.name, ok=True)


def absolute_url(url: str) -> str:
    """``url`` prefixed with ``settings.FENGQIAO_BASE_URL`` when it is a path and a base is configured."""
    base = str(getattr(settings, "FENGQIAO_BASE_URL", "") or "").rstrip("/")
    if url.startswith("/") and base:
        return base + url
    return url


def sign(secret: str, timestamp: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()


class WebhookChannel:
    """Base of the HTTP channels: POST a JSON body, optionally signed, with a timeout."""

    name = "webhook"
    setting = ""

    def __init__(self, url: str | None = None, secret: str | None = None, timeout: float | None = None) -> None:
        config: dict[str, Any] = dict(getattr(settings, self.setting, None) or {}) if self.setting else {}
        self.url = str(url if url is not None else config.get("url", ""))
        self.secret = str(secret if secret is not None else config.get("secret", ""))
        self.timeout = float(timeout if timeout is not None else config.get("timeout", 5))
        if not self.url:
            raise ImproperlyConfigured(f"{type(self).__name__}: set settings.{self.setting} = {{'url': ...}}")
        if not self.url.startswith(("https://", "http://")):
            raise ImproperlyConfigured(f"{type(self).__name__}: the URL must start with https:// or http://")

    def payload(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def accepted(self, status: int, answer: bytes) -> str:
        """'' when the answer means "delivered", else the error to record."""
        return "" if 200 <= status < 300 else f"HTTP {status}"

    def send(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> DeliveryResult:
        data = self.payload(recipient, subject, body, kind=kind, url=url)
        if data is None:
            return DeliveryResult.skip(self.name, "no address for this channel")
        raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Fengqiao-notify/1"}
        if self.secret:
            stamp = str(int(time.time()))
            headers["X-Fengqiao-Timestamp"] = stamp
            headers["X-Fengqiao-Signature"] = sign(self.secret, stamp, raw)
        request = urllib.request.Request(self.url, data=raw, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                status, answer = response.status, response.read(65536)
        except urllib.error.HTTPError as exc:
            return DeliveryResult.failed(self.name, f"HTTP {exc.code}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return DeliveryResult.failed(self.name, f"{type(exc).__name__}: {reason}")
        error = self.accepted(status, answer)
        if error:
            return DeliveryResult.failed(self.name, error)
        return DeliveryResult(channel=self.name, ok=True)


class SmsChannel(WebhookChannel):
    """Text messages through the deployment's SMS gateway (``settings.FENGQIAO_NOTIFY_SMS``)."""

    name = "sms"
    setting = "FENGQIAO_NOTIFY_SMS"
    max_length = 300

    def payload(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> dict[str, Any] | None:
        if not recipient.phone:
            return None
        text = subject if not body else f"{subject}：{body}"
        return {"phone": recipient.phone, "text": text[: self.max_length], "kind": kind, "url": absolute_url(url)}


class WeComChannel(WebhookChannel):
    """企业微信 group robot (``settings.FENGQIAO_NOTIFY_WECOM``): a text message mentioning the recipient."""

    name = "wecom"
    setting = "FENGQIAO_NOTIFY_WECOM"

    def payload(self, recipient: Recipient, subject: str, body: str, *, kind: str, url: str) -> dict[str, Any] | None:
        lines = [subject, body, absolute_url(url)]
        text = "\n".join(line for line in lines if line)[:2000]
        message: dict[str, Any] = {"content": text}
        if recipient.phone:
            message["mentioned_mobile_list"] = [recipient.phone]
        return {"msgtype": "text", "text": message}

    def accepted(self, status: int, answer: bytes) -> str:
        if not 200 <= status < 300:
            return f"HTTP {status}"
        try:
            data = json.loads(answer.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "WeCom answered something that is not JSON"
        code = data.get("errcode", 0) if isinstance(data, dict) else 0
        return "" if code == 0 else f"WeCom errcode {code}: {data.get('errmsg', '')}"[:MAX_ERROR]


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[Channel, ...]:
    channels: list[Channel] = []
    for path in paths:
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS: cannot import {path!r}: {exc}") from exc
        channel = cls()
        if not isinstance(channel, Channel):
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS: {path!r} is not a channel (needs name and send).")
        channels.append(channel)
    return tuple(channels)


def configured_channels() -> tuple[Channel, ...]:
    """The channels of ``settings.FENGQIAO_NOTIFY_CHANNELS`` (instantiated once per process and setting)."""
    paths = tuple(getattr(settings, "FENGQIAO_NOTIFY_CHANNELS", None) or DEFAULT_CHANNELS)
    return _load(paths)


def deliver(
    recipient: Recipient,
    subject: str,
    body: str,
    *,
    kind: str,
    url: str = "",
    channels: tuple[Channel, ...] | None = None,
) -> list[DeliveryResult]:
    """Send through every channel; a channel that raises is reported as failed, never propagated."""
    results = []
    for channel in configured_channels() if channels is None else channels:
        try:
            result = channel.send(recipient, subject, body, kind=kind, url=url)
        except Exception as exc:
            logger.exception("notification channel %s failed", getattr(channel, "name", channel))
            result = DeliveryResult.failed(str(getattr(channel, "name", "?")), f"{type(exc).__name__}: {exc}")
        results.append(result)
    return results
