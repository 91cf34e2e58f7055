"""The periodic task and the scheduler entry."""

from __future__ import annotations

from django.conf import settings

from fengqiao.core.tasks_schedule import load_schedule
from fengqiao.webhooks.models import Delivery, DeliveryStatus
from fengqiao.webhooks.services import create_subscription
from fengqiao.webhooks.tasks import pump_webhooks

from .conftest import new_case


def test_scheduled_every_few_seconds():
    assert settings.FENGQIAO_SCHEDULE["fengqiao.webhooks.tasks.pump_webhooks"] <= 10
    assert any(e.path == "fengqiao.webhooks.tasks.pump_webhooks" for e in load_schedule())


def test_pump_relays_and_sends(world, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    create_subscription(
        actor=world.district_user,
        name="平台",
        url=f"http://127.0.0.1:{httpserver.port}/hook",
        event_types=["case.created"],
        region=world.regions["440305"],
    )
    new_case(world)
    new_case(world)
    result = pump_webhooks.call()
    assert result["deliveries_created"] == 2 and result["succeeded"] == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert pump_webhooks.call()["sent"] == 0  # nothing twice
    assert len(httpserver.log) == 2
