"""Delivery to a real HTTP receiver (pytest-httpserver): signatures, retries, back-off, auto-pause."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core import mail  # noqa: F401  (notifications go through the logging channel)
from werkzeug import Response

from fengqiao.audit.models import AuditEvent
from fengqiao.notifications.models import Notification
from fengqiao.webhooks import delivery as delivery_mod
from fengqiao.webhooks import signing
from fengqiao.webhooks.delivery import dispatch_due, next_delay
from fengqiao.webhooks.models import Attempt, Delivery, DeliveryStatus, Subscription
from fengqiao.webhooks.relay import relay
from fengqiao.webhooks.services import create_subscription, resume_subscription, rotate_secret

from .conftest import event, later, new_case

TYPES = ["case.created", "case.status_changed", "case.closed"]


@pytest.fixture
def receiver(httpserver):
    return httpserver


def url_of(server, path="/hook"):
    return f"http://127.0.0.1:{server.port}{path}"


def subscribe(w, url):
    return create_subscription(
        actor=w.district_user, name="市级平台", url=url, event_types=TYPES, region=w.regions["440305"]
    )


def test_signed_delivery_verifies(world, receiver):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    _sub, secret = subscribe(world, url_of(receiver))
    case = new_case(world)
    relay()
    now = later(1)
    counts = dispatch_due(now)
    assert counts == {"sent": 1, "succeeded": 1, "failed": 0, "retrying": 0}
    ((request, _response),) = receiver.log
    body = request.get_data()
    signing.verify(secret, dict(request.headers), body, now=now.timestamp())
    payload = json.loads(body)
    assert payload["type"] == "case.created" and payload["data"]["case"]["number"] == case.number
    d = Delivery.objects.get()
    assert request.headers["webhook-id"] == d.message.uid
    assert request.headers["content-type"].startswith("application/json")
    assert d.status == DeliveryStatus.SUCCEEDED and d.attempts == 1 and d.last_status_code == 200
    assert Attempt.objects.get().ok
    assert Subscription.objects.get().last_success_at == now


def test_failure_retry_with_backoff_then_success_same_webhook_id(world, receiver):
    receiver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    receiver.expect_ordered_request("/hook").respond_with_data("busy", status=500)
    receiver.expect_ordered_request("/hook").respond_with_data("ok", status=204)
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    t0 = later(1)
    dispatch_due(t0)
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.PENDING and d.last_status_code == 503
    assert d.next_attempt_at is not None
    assert t0 + datetime.timedelta(seconds=48) <= d.next_attempt_at <= t0 + datetime.timedelta(seconds=72)
    assert dispatch_due(t0 + datetime.timedelta(seconds=30))["sent"] == 0  # not due yet
    t1 = d.next_attempt_at
    dispatch_due(t1)
    d.refresh_from_db()
    assert d.cycle_failures == 2 and t1 is not None and d.next_attempt_at is not None
    assert t1 + datetime.timedelta(seconds=240) <= d.next_attempt_at <= t1 + datetime.timedelta(seconds=360)
    dispatch_due(d.next_attempt_at)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SUCCEEDED and d.attempts == 3 and d.last_status_code == 204
    ids = {req.headers["webhook-id"] for req, _resp in receiver.log}
    assert ids == {d.message.uid}
    bodies = {req.get_data() for req, _resp in receiver.log}
    assert len(bodies) == 1
    assert list(Attempt.objects.order_by("at").values_list("status_code", flat=True)) == [503, 500, 204]


def test_backoff_schedule_and_giving_up():
    assert next_delay(1, lambda a, b: 1.0) == 60
    assert [next_delay(n, lambda a, b: 1.0) for n in range(1, 6)] == [60, 300, 1800, 7200, 43200]
    assert next_delay(6, lambda a, b: 1.0) is None
    delay = next_delay(1)
    assert delay is not None and 48 <= delay <= 72


def test_fails_after_the_last_retry(world, receiver, settings):
    settings.FENGQIAO_WEBHOOKS = dict(settings.FENGQIAO_WEBHOOKS, retry_delays=[1, 2], pause_after_failures=99)
    receiver.expect_request("/hook").respond_with_data("no", status=500)
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    t = later(1)
    for _ in range(3):
        dispatch_due(t)
        t += datetime.timedelta(seconds=10)
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3 and d.next_attempt_at is None
    assert dispatch_due(t + datetime.timedelta(days=1))["sent"] == 0


def test_redirects_are_not_followed(world, receiver):
    receiver.expect_request("/hook").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/"})
    )
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    dispatch_due(later(1))
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.PENDING and d.last_status_code == 302 and "Redirect" in d.last_error
    assert len(receiver.log) == 1


def test_timeout_is_a_failure(world, receiver, settings):
    import time

    settings.FENGQIAO_WEBHOOKS = dict(settings.FENGQIAO_WEBHOOKS, timeout=0.3)

    def slow(request):
        time.sleep(1.0)
        return Response("late")

    receiver.expect_request("/hook").respond_with_handler(slow)
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    dispatch_due(later(1))
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.PENDING and d.last_status_code is None and "time limit" in d.last_error


def test_address_refused_at_send_time(world, receiver, settings):
    """A host whose DNS answer changed to a metadata address after it was saved is not contacted."""
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    dispatch_due(later(1), resolve=lambda host, port: ["169.254.169.254"])
    Subscription.objects.update(url="http://metadata.example/hook")
    dispatch_due(later(100), resolve=lambda host, port: ["169.254.169.254"])
    d = Delivery.objects.get()
    assert "metadata" in d.last_error


def test_auto_pause_after_consecutive_failures_holds_and_notifies(world, receiver):
    receiver.expect_request("/hook").respond_with_data("down", status=502)
    sub, _ = subscribe(world, url_of(receiver))
    for _ in range(3):
        new_case(world)
    relay()
    dispatch_due(later(1))  # three failures in a row (limit 3 in the test settings)
    sub.refresh_from_db()
    assert not sub.is_active and "3" in sub.pause_reason
    assert AuditEvent.objects.filter(action="webhooks.subscription.auto_pause").count() == 1
    note = Notification.objects.get(recipient=world.district_user, kind="webhook.paused")
    assert sub.name in note.subject
    # waiting deliveries are held, new events too; nothing is sent while paused
    new_case(world)
    relay()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.HELD}
    before = len(receiver.log)
    assert dispatch_due(later(10_000))["sent"] == 0
    assert len(receiver.log) == before
    # the receiver is fixed; resuming sends everything held
    receiver.clear()
    receiver.expect_request("/hook").respond_with_data("ok")
    resume_subscription(sub, actor=world.district_user)
    assert dispatch_due(later(20))["succeeded"] == 4
    assert len(receiver.log) == 4


def test_two_workers_do_not_send_the_same_delivery(world, receiver):
    receiver.expect_request("/hook").respond_with_data("ok")
    subscribe(world, url_of(receiver))
    new_case(world)
    relay()
    now = later(1)
    token, rows = delivery_mod.claim(now, 10)
    assert len(rows) == 1
    assert delivery_mod.claim(now, 10)[1] == []  # the second worker finds nothing to take
    # the first worker died; its lease runs out and the delivery is sent again, same webhook-id
    assert dispatch_due(now + datetime.timedelta(minutes=5))["succeeded"] == 1
    d = Delivery.objects.get()
    assert receiver.log[0][0].headers["webhook-id"] == d.message.uid
    # the late first worker's result does not overwrite the state
    delivery_mod.record(rows[0], token, delivery_mod.Outcome(ok=False, error="late"), now)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SUCCEEDED


def test_rotated_secret_signs_with_old_and_new(world, receiver):
    receiver.expect_request("/hook").respond_with_data("ok")
    sub, old = subscribe(world, url_of(receiver))
    new = rotate_secret(sub, actor=world.district_user)
    new_case(world)
    relay()
    now = later(1)
    dispatch_due(now)
    request = receiver.log[0][0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    signing.verify(old, dict(request.headers), request.get_data(), now=now.timestamp())
    signing.verify(new, dict(request.headers), request.get_data(), now=now.timestamp())
    # after the grace period only the new one signs
    event(new_case(world), "assign")
    relay()
    dispatch_due(now + datetime.timedelta(hours=25))
    last = receiver.log[-1][0]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(signing.InvalidSignature):
        signing.verify(old, dict(last.headers), last.get_data(), now=(now + datetime.timedelta(hours=25)).timestamp())
