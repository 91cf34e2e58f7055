"""End to end with the real case services and the demo district: intake and workflow → signed deliveries."""

from __future__ import annotations

import json

import pytest

from fengqiao.cases import services as case_services
from fengqiao.cases.tests.conftest import category, district, users  # noqa: F401 - fixtures
from fengqiao.regions.models import Level, Region
from fengqiao.webhooks import signing
from fengqiao.webhooks.delivery import dispatch_due
from fengqiao.webhooks.demo import load_demo_subscription
from fengqiao.webhooks.models import Subscription
from fengqiao.webhooks.relay import relay
from fengqiao.webhooks.services import create_subscription

from .conftest import later


@pytest.mark.django_db
def test_real_workflow_is_delivered_signed_and_in_order(users, category, httpserver):  # noqa: F811
    httpserver.expect_request("/hook").respond_with_data("ok")
    load_demo_subscription()  # the case fixtures load the district without extras
    admin = users["district_centre"]
    district_region = Region.objects.get(path="440399", valid_to__isnull=True)
    sub, secret = create_subscription(
        actor=admin,
        name="市级平台",
        url=f"http://127.0.0.1:{httpserver.port}/hook",
        event_types=["case.created", "case.status_changed", "case.closed"],
        region=district_region,
    )
    street = users["street_centre_1"]
    grid = Region.objects.filter(level=Level.GRID, path__under=street.unit.region.path).order_by("path").first()
    assert grid is not None
    case = case_services.submit_case(
        category=category,
        channel="walk_in",
        actor=street,
        community=grid.parent,
        description="楼道里堆满杂物，张三 13800138000",
        reporter_name="张三",
        reporter_phone="13800138000",
    )
    case = case_services.apply_action(case, "handle_here", actor=street)
    case = case_services.apply_action(case, "comment", actor=street, note="内部备注")
    case = case_services.apply_action(case, "feedback", actor=street, note="已清理")
    case = case_services.apply_action(case, "pass_review", actor=street)
    relay()
    now = later(1)
    dispatch_due(now)
    received = []
    for request, _response in httpserver.log:
        signing.verify(secret, dict(request.headers), request.get_data(), now=now.timestamp())
        received.append(json.loads(request.get_data()))
    got = sorted((e["data"]["event_id"], e["type"], e["data"]["case"]["state"]) for e in received)
    assert [(t, s) for _i, t, s in got] == [
        ("case.created", "submitted"),
        ("case.status_changed", "in_progress"),
        ("case.status_changed", "review"),
        ("case.closed", "closed"),
        ("case.status_changed", "closed"),
    ] or [(t, s) for _i, t, s in got] == [
        ("case.created", "submitted"),
        ("case.status_changed", "in_progress"),
        ("case.status_changed", "review"),
        ("case.status_changed", "closed"),
        ("case.closed", "closed"),
    ]
    raw = b"".join(request.get_data() for request, _ in httpserver.log).decode()
    for personal in ("张三", "13800138000", "楼道", "内部备注", "已清理", street.username):
        assert personal not in raw
    assert all(e["data"]["case"]["number"] == case.number for e in received)
    # the demo district's example subscriber is paused: its events are held, not sent
    demo = Subscription.objects.exclude(pk=sub.pk).get()
    assert set(demo.deliveries.values_list("status", flat=True)) == {"held"}


@pytest.mark.django_db
def test_demo_subscription_is_paused_and_idempotent(district):  # noqa: F811
    """The demo loader creates it; loading again adds nothing."""
    assert load_demo_subscription() is True
    assert load_demo_subscription() is False
    sub = Subscription.objects.get()
    assert not sub.is_active and sub.region_path == "440399" and sub.created_by is not None
