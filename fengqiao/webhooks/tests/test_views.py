"""The staff pages: permission and scope guarded, clear errors, nothing written on bad input."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from fengqiao.audit.models import AuditEvent
from fengqiao.webhooks import signing
from fengqiao.webhooks.delivery import dispatch_due
from fengqiao.webhooks.models import Attempt, Delivery, DeliveryStatus, Subscription
from fengqiao.webhooks.relay import relay
from fengqiao.webhooks.services import create_subscription

from .conftest import later, new_case


def client_for(user, language="en"):
    c = Client()
    c.force_login(user)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return c


def form_data(w, **over):
    data = {
        "name": "市大数据局",
        "url": "http://10.1.2.3/hook",
        "event_types": ["case.created", "case.status_changed"],
        "region": str(w.regions["440305"].pk),
        "description": "",
    }
    data.update(over)
    return data


def test_create_shows_the_secret_once_and_encrypts_it(world):
    c = client_for(world.district_user)
    response = c.post("/webhooks/new/", form_data(world))
    assert response.status_code == 200
    body = response.content.decode()
    sub = Subscription.objects.get()
    secret = body.split('id="secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert secret.startswith("whsec_")
    assert secret not in sub.secret and sub.secret.startswith("fq1$")
    assert response["Cache-Control"] == "no-store"
    detail = c.get(f"/webhooks/{sub.pk}/").content.decode()
    assert secret not in detail
    assert AuditEvent.objects.filter(action="webhooks.subscription.create").count() == 1
    assert secret not in str(AuditEvent.objects.get(action="webhooks.subscription.create").after)


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"url": "http://169.254.169.254/latest/"}, "url", "metadata"),
        ({"url": "ftp://10.1.2.3/x"}, "url", "http://"),
        ({"url": ""}, "url", "required"),
        ({"name": ""}, "name", "required"),
        ({"event_types": []}, "event_types", "at least one event"),
        ({"region": ""}, "region", "required"),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_nothing_written(world, over, field, message):
    c = client_for(world.district_user)
    data = form_data(world, **over)
    response = c.post("/webhooks/new/", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert not Subscription.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhooks.").exists()
    if data["name"]:
        assert data["name"] in response.content.decode()  # what was typed is kept


def test_region_outside_scope_refused(world):
    c = client_for(world.street_user)  # 粤海街道
    response = c.post("/webhooks/new/", form_data(world, region=str(world.regions["440305002"].pk)))
    assert "region" in response.context["form"].errors
    assert not Subscription.objects.exists()


def test_pages_need_the_permission_and_scope(world):
    sub, _ = create_subscription(
        actor=world.district_user,
        name="区平台",
        url="http://10.1.2.3/hook",
        event_types=["case.created"],
        region=world.regions["440305"],
    )
    assert client_for(world.nobody).get("/webhooks/").status_code == 403
    assert client_for(world.street_user).get(f"/webhooks/{sub.pk}/").status_code == 404  # district-wide: not theirs
    assert client_for(world.street_user).post(f"/webhooks/{sub.pk}/pause/").status_code == 404
    listing = client_for(world.district_user).get("/webhooks/")
    assert listing.status_code == 200 and "区平台" in listing.content.decode()
    assert "区平台" not in client_for(world.street_user).get("/webhooks/").content.decode()


def test_detail_log_ping_resend_pause_resume(world, httpserver, django_capture_on_commit_callbacks):
    httpserver.expect_request("/hook").respond_with_data("ok")
    url = f"http://127.0.0.1:{httpserver.port}/hook"
    sub, secret = create_subscription(
        actor=world.district_user,
        name="区平台",
        url=url,
        event_types=["case.created"],
        region=world.regions["440305"],
    )
    c = client_for(world.district_user)
    # test event: sent at once (immediate task backend in tests), verifiable
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(f"/webhooks/{sub.pk}/test/", follow=True)
    assert response.status_code == 200
    request = httpserver.log[0][0]
    assert b'"type":"webhook.ping"' in request.get_data()
    ping = Delivery.objects.get(message__event_type="webhook.ping")
    assert ping.status == DeliveryStatus.SUCCEEDED
    signing.verify(secret, dict(request.headers), request.get_data(), now=later(0).timestamp())
    # a case event in the log
    case = new_case(world)
    relay()
    dispatch_due(later(1))
    d = Delivery.objects.get(message__event_type="case.created")
    page = c.get(f"/webhooks/{sub.pk}/").content.decode()
    assert case.number in page and "200" in page
    htmx = c.get(f"/webhooks/{sub.pk}/?status=succeeded", HTTP_HX_REQUEST="true")
    assert "<html" not in htmx.content.decode() and case.number in htmx.content.decode()
    detail = c.get(f"/webhooks/{sub.pk}/deliveries/{d.pk}/").content.decode()
    assert d.message.uid in detail and case.number in detail
    # resend: same webhook-id
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/webhooks/{sub.pk}/deliveries/{d.pk}/resend/")
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SUCCEEDED and d.attempts == 2
    assert Attempt.objects.filter(delivery=d, manual=True).count() == 1
    ids = [req.headers["webhook-id"] for req, _ in httpserver.log if b"case.created" in req.get_data()]
    assert ids == [d.message.uid, d.message.uid]
    # pause, resume
    c.post(f"/webhooks/{sub.pk}/pause/")
    sub.refresh_from_db()
    assert not sub.is_active
    c.post(f"/webhooks/{sub.pk}/resume/", {"send_held": "on"})
    sub.refresh_from_db()
    assert sub.is_active
    actions = set(AuditEvent.objects.filter(action__startswith="webhooks.").values_list("action", flat=True))
    assert {
        "webhooks.subscription.ping",
        "webhooks.delivery.resend",
        "webhooks.subscription.pause",
        "webhooks.subscription.resume",
    } <= actions


def test_rotate_edit_delete(world):
    sub, old = create_subscription(
        actor=world.district_user,
        name="区平台",
        url="http://10.1.2.3/hook",
        event_types=["case.created"],
        region=world.regions["440305"],
    )
    c = client_for(world.district_user)
    response = c.post(f"/webhooks/{sub.pk}/rotate-secret/")
    assert "whsec_" in response.content.decode() and old not in response.content.decode()
    sub.refresh_from_db()
    assert sub.previous_secret and sub.previous_secret_expires_at
    # edit with a bad URL: refused, nothing changed
    response = c.post(f"/webhooks/{sub.pk}/edit/", form_data(world, url="http://[fe80::1]/x"))
    assert "url" in response.context["form"].errors
    sub.refresh_from_db()
    assert sub.url == "http://10.1.2.3/hook"
    response = c.post(f"/webhooks/{sub.pk}/edit/", form_data(world, name="新名字"))
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.name == "新名字" and sub.event_types == ["case.created", "case.status_changed"]
    assert c.get(f"/webhooks/{sub.pk}/delete/").status_code == 200
    assert c.post(f"/webhooks/{sub.pk}/delete/").status_code == 302
    assert not Subscription.objects.exists()
    assert AuditEvent.objects.filter(action="webhooks.subscription.delete").exists()
