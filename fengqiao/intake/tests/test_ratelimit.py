"""Public intake is rate-limited per client, through Django's cache, with a friendly 429 page."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from fengqiao.cases.models import Case
from fengqiao.intake import ratelimit
from fengqiao.system.models import Parameter
from fengqiao.system.selectors import invalidate_parameter

from .factories import COMMUNITY, form_key, report_data

pytestmark = pytest.mark.django_db


def test_defaults():
    limits = ratelimit.limits()
    assert limits["submit"] == (10, 600)
    assert limits["view"] == (60, 60)
    assert limits["track"] == (10, 600)


def test_submissions_beyond_the_limit_get_a_friendly_429(where, settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"submit": (2, 600)}
    client = Client()
    for _ in range(2):
        assert client.post(f"/r/{COMMUNITY}/", report_data(form_key(client))).status_code == 302
    response = client.post(f"/r/{COMMUNITY}/", report_data(form_key(client)))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 600
    html = response.content.decode()
    assert "Please wait a moment" in html
    minutes = -(-int(response["Retry-After"]) // 60)
    assert f"try again in {minutes} minute" in html
    assert Case.objects.count() == 2
    # viewing the form is a separate, larger budget
    assert client.get(f"/r/{COMMUNITY}/").status_code == 200


def test_views_beyond_the_limit(where, settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"view": (3, 60)}
    client = Client()
    statuses = [client.get(f"/r/{COMMUNITY}/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(f"/r/qr/{COMMUNITY}.png").status_code == 429


def test_limits_are_per_client(where, settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"view": (1, 60)}
    assert Client(REMOTE_ADDR="10.0.0.1").get(f"/r/{COMMUNITY}/").status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.1").get(f"/r/{COMMUNITY}/").status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.2").get(f"/r/{COMMUNITY}/").status_code == 200


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(settings):
    rf = RequestFactory()
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    assert ratelimit.client_id(request) == "10.0.0.9"
    settings.FENGQIAO_TRUSTED_PROXIES = 1
    assert ratelimit.client_id(request) == "5.6.7.8"  # the address our proxy saw, not what the client claimed
    settings.FENGQIAO_TRUSTED_PROXIES = 3  # fewer hops than configured: fall back to the peer
    assert ratelimit.client_id(request) == "10.0.0.9"


def test_window_expires(settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"submit": (1, 600)}
    request = RequestFactory().post("/", REMOTE_ADDR="10.1.1.1")
    start = 1_800_000_000.0 - (1_800_000_000 % 600)
    assert ratelimit.hit(request, "submit", now=start).allowed
    verdict = ratelimit.hit(request, "submit", now=start + 10)
    assert not verdict.allowed and verdict.retry_after == 590
    assert ratelimit.hit(request, "submit", now=start + 600).allowed


def test_parameter_overrides_the_setting_and_zero_switches_off(where, settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"view": (1, 60)}
    Parameter.objects.create(key="intake.rate_limits", name="limits", value_type="json", value={"view": [0, 60]})
    invalidate_parameter("intake.rate_limits")
    client = Client()
    assert all(client.get(f"/r/{COMMUNITY}/").status_code == 200 for _ in range(5))


@pytest.mark.parametrize("bad", [{"view": "lots"}, {"view": [5]}, {"view": [-1, 60]}, {"view": [5, 0]}, ["x"]])
def test_malformed_configuration_keeps_the_default(settings, bad):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = bad
    assert ratelimit.limits()["view"] == (60, 60)


def test_lookup_guessing_is_limited(where, settings):
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"track": (3, 600)}
    client = Client()
    statuses = [
        client.post("/r/track/", {"number": f"2026010100000{i}", "phone": "13800138000"}).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_tracking_actions_count_as_submissions(where, settings):
    client = Client()
    response = client.post(f"/r/{COMMUNITY}/", report_data(form_key(client)))
    token = response["Location"].split("/")[3]
    settings.FENGQIAO_INTAKE_RATE_LIMITS = {"submit": (1, 600)}
    client.post(f"/r/t/{token}/", {"action": "add_info", "note": "补充一", "version": 1})  # the 2nd submission
    assert client.post(f"/r/t/{token}/", {"action": "add_info", "note": "补充二", "version": 2}).status_code == 429
