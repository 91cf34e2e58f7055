"""The audit log of a demo district in use: every action has a readable name, every event an operator."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from fengqiao.accounts import services as accounts_services
from fengqiao.accounts.models import User
from fengqiao.audit.labels import action_label, has_action_label
from fengqiao.audit.models import AuditEvent
from fengqiao.demo.generator import DEMO_PASSWORD, DISTRICT
from fengqiao.demo.loader import DEMO_ACTOR_NAME
from fengqiao.regions import services as region_services
from fengqiao.regions.models import Level, Region
from fengqiao.registry import services as registry_services
from fengqiao.registry.models import Household, Resident
from fengqiao.system.models import Parameter
from fengqiao.system.selectors import get_parameter
from fengqiao.units import services as unit_services
from fengqiao.units.models import GridAssignment, Unit

pytestmark = pytest.mark.django_db


def _load() -> None:
    call_command("load_demo_district", "--residents-per-grid", "1", stdout=StringIO())


def test_demo_events_name_the_demo_as_operator_and_set_the_district_name() -> None:
    with translation.override("zh-hans"):
        _load()
        name = str(DEMO_ACTOR_NAME)
    assert name == "系统（演示数据）"
    events = AuditEvent.objects.all()
    actions = set(events.values_list("action", flat=True))
    # the services the loader calls write their own events, all by the demo
    assert {"region.create", "unit.create", "grid_assignment.create", "demo.load", "system.parameter.update"} <= actions
    # sample cases and visits are handled by the demo's own staff through the case and grid services
    # (the case loop and the assessments need a real actor); everything else is the demo's
    loader_events = events.exclude(action__startswith="cases.").exclude(action__startswith="grid.")
    assert set(loader_events.values_list("actor_name", flat=True)) == {name}
    assert not loader_events.filter(actor__isnull=False).exists()
    assert get_parameter("platform.district_name") == DISTRICT[1]


def test_a_district_name_set_by_an_administrator_is_kept() -> None:
    _load()
    parameter = Parameter.objects.get(key="platform.district_name")
    parameter.value = "南山区"
    parameter.save()
    _load()
    parameter.refresh_from_db()
    assert parameter.value == "南山区"


def test_every_action_in_a_used_demo_district_has_a_label() -> None:
    _load()
    admin = User.objects.get(username="admin")
    worker = User.objects.get(username="grid_worker_1")
    resident: Resident | None = Resident.objects.restrict(worker, "change").select_related("household").first()
    assert resident is not None and resident.household is not None

    # services, as the people of the demo would use them
    registry_services.update_resident(actor=worker, resident=resident, phone="13800138000")
    registry_services.update_household(actor=worker, household=resident.household, address="枫桥路 1 号")
    registry_services.reveal_personal_field(actor=admin, obj=resident, field="id_number", reason="核实身份")
    unit = Unit.objects.filter(region_path__startswith=DISTRICT[0]).order_by("code").last()
    assert unit is not None
    unit_services.update_unit(actor=admin, unit=unit, address="枫桥大道 8 号")
    assignment = GridAssignment.objects.filter(valid_to__isnull=True).order_by("pk").first()
    assert assignment is not None
    unit_services.end_assignment(actor=admin, assignment=assignment)
    street = Region.objects.filter(level=Level.STREET, path__startswith=DISTRICT[0]).order_by("path").first()
    assert street is not None
    region_services.update_region(actor=admin, region=street, name=f"{street.name}（新）")
    accounts_services.reset_password(actor=admin, user=worker, password="Another@2026pass")
    accounts_services.deactivate_user(actor=admin, user=worker)
    accounts_services.reactivate_user(actor=admin, user=worker)

    # pages: log in (and fail to), export the lists
    client = Client()
    assert not client.login(username="admin", password="wrong")
    client.post(reverse("accounts:login"), {"username": "admin", "password": DEMO_PASSWORD})
    for name in (
        "registry:resident_export",
        "registry:household_export",
        "audit:operation_export",
        "system:parameter_export",
        "system:dictionary_export",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
    client.post(reverse("accounts:logout"))

    assert Household.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"registry.resident.update", "pii.reveal", "grid_assignment.end", "auth.login"} <= actions
    unnamed = sorted(a for a in actions if not has_action_label(a))
    assert not unnamed, f"actions without a readable name: {unnamed}"
    with translation.override("zh-hans"):
        assert action_label("registry.resident.export") == "导出居民"
