"""A tiny district (fengqiao.cases.tests.small_world), subscribers and a receiving platform."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone, translation

from fengqiao.cases.models import CaseEvent
from fengqiao.cases.tests.small_world import build, make_case, staff

WEBHOOK_PERMS = [
    "webhooks.view_subscription",
    "webhooks.add_subscription",
    "webhooks.change_subscription",
    "webhooks.delete_subscription",
]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.FENGQIAO_WEBHOOKS = {
        "allowed": [],
        "allow_loopback": True,
        "timeout": 2,
        "retry_delays": [60, 300, 1800, 7200, 43200],
        "pause_after_failures": 3,
        "pause_after_seconds": 0,
        "gap_grace_seconds": 120,
    }


@pytest.fixture
def world(db):
    w = build()
    w.district_user = staff("district_admin", WEBHOOK_PERMS, w.units["440305"])
    w.street_user = staff("street_admin", WEBHOOK_PERMS, w.units["440305001"])
    w.nobody = staff("no_webhooks", ["cases.view_case"], w.units["440305"])
    return w


def event(case, action="assign", from_state="submitted", to_state="assigned", at=None):
    return CaseEvent.objects.create(
        case=case,
        at=at or timezone.now(),
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_label="centre",
    )


def new_case(w, path="440305001001001", category="hazard", **fields):
    case = make_case(w.categories[category], w.regions[path], unit=w.units["440305001"], **fields)
    event(case, "submit", "", "submitted", at=case.received_at)
    return case


def later(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)
