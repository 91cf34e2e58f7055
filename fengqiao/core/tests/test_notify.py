"""Notification channels: logging, e-mail, and the HTTP channels against a local server (never the internet)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from fengqiao.core import notify
from fengqiao.core.notify import (
    Channel,
    DeliveryResult,
    EmailChannel,
    LoggingChannel,
    Recipient,
    SmsChannel,
    WeComChannel,
    configured_channels,
    deliver,
    sign,
)

ALICE = Recipient(user_id=1, username="alice", name="张三", email="alice@example.org", phone="13800138000")
NOBODY = Recipient(user_id=2, username="bob")


class Server:
    """A local HTTP server recording what it receives and answering what the test says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.answer = b'{"errcode": 0, "errmsg": "ok"}'
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(outer.answer)

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client gave up (timeout test): nothing to report

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


def test_logging_channel_is_the_default(caplog) -> None:
    notify._load.cache_clear()
    channels = configured_channels()
    assert [type(c) for c in channels] == [LoggingChannel]
    with caplog.at_level(logging.INFO, logger="fengqiao.notify"):
        results = deliver(ALICE, "Case C1 is overdue", "body", kind="case.overdue", url="/cases/C1/")
    assert results == [DeliveryResult(channel="log", ok=True)]
    assert "case.overdue" in caplog.text and "alice" in caplog.text and "/cases/C1/" in caplog.text
    assert isinstance(LoggingChannel(), Channel)


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", FENGQIAO_BASE_URL="https://fq.test")
def test_email_channel() -> None:
    result = EmailChannel().send(ALICE, "逾期提醒", "案件即将逾期", kind="case.remind", url="/cases/C1/")
    assert result.ok
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    assert "https://fq.test/cases/C1/" in mail.outbox[0].body
    skipped = EmailChannel().send(NOBODY, "s", "b", kind="k", url="")
    assert skipped.skipped and not skipped.ok and len(mail.outbox) == 1


@override_settings(EMAIL_BACKEND="fengqiao.core.tests.test_notify.BrokenEmailBackend")
def test_email_failure_is_reported_not_raised() -> None:
    result = EmailChannel().send(ALICE, "s", "b", kind="k", url="")
    assert not result.ok and "SMTP down" in result.error


class NotAChannel:
    name = "nothing"


class BrokenEmailBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionError("SMTP down")


def test_sms_channel_posts_signed_json(server: Server) -> None:
    channel = SmsChannel(url=server.url, secret="s3cret", timeout=2)
    result = channel.send(ALICE, "逾期提醒", "案件 C1 已逾期", kind="case.overdue", url="/cases/C1/")
    assert result.ok, result.error
    request = server.requests[0]
    body = json.loads(request["raw"])
    assert body == {
        "phone": "13800138000",
        "text": "逾期提醒：案件 C1 已逾期",
        "kind": "case.overdue",
        "url": "/cases/C1/",
    }
    stamp = request["headers"]["X-Fengqiao-Timestamp"]
    assert request["headers"]["X-Fengqiao-Signature"] == sign("s3cret", stamp, request["raw"])
    # no phone: nothing sent, not an error
    skipped = channel.send(NOBODY, "s", "b", kind="k", url="")
    assert skipped.skipped and len(server.requests) == 1


def test_wecom_channel(server: Server) -> None:
    channel = WeComChannel(url=server.url, secret="", timeout=2)
    result = channel.send(ALICE, "督办", "请尽快处理", kind="case.supervised", url="/cases/C1/")
    assert result.ok
    body = json.loads(server.requests[0]["raw"])
    assert body["msgtype"] == "text" and body["text"]["mentioned_mobile_list"] == ["13800138000"]
    assert "督办" in body["text"]["content"] and "X-Fengqiao-Signature" not in server.requests[0]["headers"]
    server.answer = b'{"errcode": 93000, "errmsg": "invalid webhook url"}'
    failed = channel.send(ALICE, "s", "b", kind="k", url="")
    assert not failed.ok and "93000" in failed.error
    server.answer = b"<html>"
    assert "not JSON" in channel.send(ALICE, "s", "b", kind="k", url="").error


def test_http_errors_timeouts_and_refused_connections(server: Server) -> None:
    server.status = 503
    result = SmsChannel(url=server.url, secret="", timeout=2).send(ALICE, "s", "b", kind="k", url="")
    assert not result.ok and result.error == "HTTP 503"
    server.status, server.delay = 200, 1.5
    started = time.monotonic()
    slow = SmsChannel(url=server.url, secret="", timeout=0.3).send(ALICE, "s", "b", kind="k", url="")
    assert not slow.ok and time.monotonic() - started < 1.4
    refused = SmsChannel(url="http://127.0.0.1:9/none", secret="", timeout=1).send(ALICE, "s", "b", kind="k", url="")
    assert not refused.ok and refused.error


def test_misconfiguration_is_reported_early() -> None:
    with override_settings(FENGQIAO_NOTIFY_SMS={"url": ""}), pytest.raises(ImproperlyConfigured):
        SmsChannel()
    with pytest.raises(ImproperlyConfigured):
        WeComChannel(url="ftp://example.org/x")
    notify._load.cache_clear()
    with override_settings(FENGQIAO_NOTIFY_CHANNELS=["fengqiao.core.notify.Nope"]), pytest.raises(ImproperlyConfigured):
        configured_channels()
    with (
        override_settings(FENGQIAO_NOTIFY_CHANNELS=["fengqiao.core.tests.test_notify.NotAChannel"]),
        pytest.raises(ImproperlyConfigured),
    ):
        configured_channels()
    notify._load.cache_clear()


def test_a_channel_that_raises_does_not_stop_the_others() -> None:
    class Exploding:
        name = "boom"

        def send(self, *args: Any, **kwargs: Any) -> DeliveryResult:
            raise RuntimeError("bad gateway code")

    results = deliver(ALICE, "s", "b", kind="k", channels=(Exploding(), LoggingChannel()))
    assert [(r.channel, r.ok) for r in results] == [("boom", False), ("log", True)]
    assert "bad gateway code" in results[0].error
