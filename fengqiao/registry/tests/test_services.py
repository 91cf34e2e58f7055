"""Registry services: validation, duplicates, scope, audit, and the logged reveal."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from fengqiao.audit.models import AuditEvent, Category
from fengqiao.core.personal import index_for
from fengqiao.core.scope import DataScope
from fengqiao.registry import services
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import GridAssignment, GridRole

from .factories import REGISTRY_ALL, REGISTRY_VIEW, Tree, make_household, make_id, make_tree, make_unit, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def tree() -> Tree:
    return make_tree()


@pytest.fixture
def clerk(tree: Tree):  # street-level clerk: street 001 and below
    return make_user("clerk", REGISTRY_ALL, unit=make_unit(tree.street))


def messages_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


# --- create ------------------------------------------------------------------------


def test_create_resident_encrypts_derives_and_audits(tree: Tree, clerk) -> None:
    number = make_id("110105", "19800615", 124)  # even: female
    resident, warnings = services.create_resident(
        actor=clerk, grid=tree.grid, name=" 李梅 ", id_number=number.lower(), phone="138 0013 8000", relation="户主"
    )
    assert warnings == []
    resident = Resident.objects.get(pk=resident.pk)
    assert resident.region_path == tree.grid.path
    assert resident.gender == "F" and resident.birth_date == datetime.date(1980, 6, 15)
    assert resident.name.plaintext() == "李梅"
    assert resident.id_number.plaintext() == number
    assert resident.phone.plaintext() == "13800138000"
    assert resident.id_number_index == index_for("id_number", number)
    event = AuditEvent.objects.get(action="registry.resident.create")
    text = json.dumps([event.before, event.after, event.detail], ensure_ascii=False)
    assert "李梅" not in text and number not in text and "13800138000" not in text
    assert "fq1$" not in text and resident.id_number_index not in text
    assert event.after is not None and event.after["id_number_masked"] == resident.id_number_masked
    assert event.actor == clerk and event.region_path == tree.grid.path


def test_id_number_wins_over_typed_gender_and_birth_date(tree: Tree, clerk) -> None:
    resident, warnings = services.create_resident(
        actor=clerk,
        grid=tree.grid,
        name="李梅",
        id_number=make_id("110105", "19800615", 124),
        gender="M",
        birth_date=datetime.date(1999, 1, 1),
    )
    assert (resident.gender, resident.birth_date) == ("F", datetime.date(1980, 6, 15))
    assert any("taken from the ID number" in w for w in warnings)


def test_region_warning_is_returned_not_refused(tree: Tree, clerk) -> None:
    resident, warnings = services.create_resident(
        actor=clerk, grid=tree.grid, name="赵六", id_number=make_id("999999", "19900307", 123)
    )
    assert resident.pk and len(warnings) == 1 and "999999" in warnings[0]
    assert AuditEvent.objects.get(action="registry.resident.create").detail == {"warnings": warnings}


def test_bad_inputs_give_field_errors_and_store_nothing(tree: Tree, clerk) -> None:
    bad_id = make_id()[:-1] + ("0" if make_id()[-1] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        services.create_resident(
            actor=clerk, grid=tree.community, name="", id_number=bad_id, phone="12345", gender="Z", relation="x" * 30
        )
    errors = messages_of(info)
    assert set(errors) == {"grid", "name", "id_number", "phone", "gender", "relation"}
    assert "not a grid" in errors["grid"][0]
    assert "check digit" in errors["id_number"][0]
    assert "010-12345678" in errors["phone"][0]
    assert not Resident.objects.exists()
    assert not AuditEvent.objects.exists()


def test_retired_grid_is_refused(tree: Tree, clerk) -> None:
    tree.grid.valid_to = datetime.date(2020, 1, 1)
    tree.grid.save()
    with pytest.raises(ValidationError) as info:
        services.create_resident(actor=clerk, grid=tree.grid, name="王五")
    assert "no longer in use" in messages_of(info)["grid"][0]


def test_duplicate_id_number_is_refused(tree: Tree, clerk) -> None:
    number = make_id()
    first, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三", id_number=number)
    spaced = f"{number[:6]} {number[6:]}".lower()
    with pytest.raises(ValidationError) as info:
        services.create_resident(actor=clerk, grid=tree.grid2, name="张三", id_number=spaced)
    message = messages_of(info)["id_number"][0]
    assert "already registered" in message and first.name_masked in message
    assert Resident.objects.count() == 1


def test_duplicate_outside_scope_does_not_say_where(tree: Tree, clerk) -> None:
    number = make_id()
    admin = make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)
    services.create_resident(actor=admin, grid=tree.other_grid, name="张三", id_number=number)
    with pytest.raises(ValidationError) as info:
        services.create_resident(actor=clerk, grid=tree.grid, name="张三", id_number=number)
    message = messages_of(info)["id_number"][0]
    assert "another area" in message and tree.other_grid.name not in message


def test_database_refuses_duplicate_id_index_too(tree: Tree) -> None:
    from django.db import IntegrityError, transaction

    number = make_id()
    Resident(grid=tree.grid, region_path=tree.grid.path, name="甲", id_number=number).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Resident(grid=tree.grid, region_path=tree.grid.path, name="乙", id_number=number).save()
    # residents without an ID number are not affected
    Resident(grid=tree.grid, region_path=tree.grid.path, name="丙").save()
    Resident(grid=tree.grid, region_path=tree.grid.path, name="丁").save()


def test_create_outside_scope_is_refused_and_rolled_back(tree: Tree, clerk) -> None:
    with pytest.raises(PermissionDenied):
        services.create_resident(actor=clerk, grid=tree.other_grid, name="王五")
    assert not Resident.objects.exists() and not AuditEvent.objects.exists()


def test_view_only_user_cannot_create(tree: Tree) -> None:
    viewer = make_user("viewer", REGISTRY_VIEW, unit=make_unit(tree.street))
    with pytest.raises(PermissionDenied):
        services.create_resident(actor=viewer, grid=tree.grid, name="王五")
    assert not Resident.objects.exists()


def test_household_must_be_in_the_same_grid(tree: Tree, clerk) -> None:
    household = make_household(tree.grid2)
    with pytest.raises(ValidationError) as info:
        services.create_resident(actor=clerk, grid=tree.grid, name="王五", household=household)
    assert household.number in messages_of(info)["household"][0]


# --- update ------------------------------------------------------------------------


def test_update_keeps_personal_fields_unless_given(tree: Tree, clerk) -> None:
    number = make_id()
    resident, _w = services.create_resident(
        actor=clerk, grid=tree.grid, name="张三", id_number=number, phone="13800138000"
    )
    services.update_resident(actor=clerk, resident=resident, relation="户主", grid=tree.grid2)
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.name.plaintext() == "张三" and fresh.phone.plaintext() == "13800138000"
    assert fresh.region_path == tree.grid2.path and fresh.relation == "户主"
    event = AuditEvent.objects.get(action="registry.resident.update")
    after = event.after or {}
    assert set(after) >= {"grid_id", "region_path", "relation"}
    assert "name_masked" not in after
    # change the phone, remove the ID number
    services.update_resident(actor=clerk, resident=fresh, phone="13900139000", id_number="")
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.phone.plaintext() == "13900139000" and fresh.phone_masked == "139****9000"
    assert fresh.id_number == "" and fresh.id_number_index == "" and fresh.id_number_masked == ""
    last = AuditEvent.objects.filter(action="registry.resident.update").first()
    assert last is not None and (last.detail or {})["personal_fields_written"] == ["id_number", "phone"]


def test_update_may_re_enter_own_id_number(tree: Tree, clerk) -> None:
    number = make_id()
    resident, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三", id_number=number)
    services.update_resident(actor=clerk, resident=resident, id_number=number)
    other, _w = services.create_resident(actor=clerk, grid=tree.grid, name="李四", id_number=make_id(seq=125))
    with pytest.raises(ValidationError) as info:
        services.update_resident(actor=clerk, resident=other, id_number=number)
    assert "already registered" in messages_of(info)["id_number"][0]


def test_update_out_of_scope_is_refused(tree: Tree, clerk) -> None:
    admin = make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)
    outside, _w = services.create_resident(actor=admin, grid=tree.other_grid, name="王五")
    with pytest.raises(PermissionDenied):
        services.update_resident(actor=clerk, resident=outside, relation="户主")
    inside, _w = services.create_resident(actor=clerk, grid=tree.grid, name="王六")
    with pytest.raises(PermissionDenied):  # moving it out of one's own area
        services.update_resident(actor=clerk, resident=inside, grid=tree.other_grid)
    assert Resident.objects.get(pk=inside.pk).region_path == tree.grid.path


def test_update_bad_phone_changes_nothing(tree: Tree, clerk) -> None:
    resident, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三", phone="13800138000")
    with pytest.raises(ValidationError):
        services.update_resident(actor=clerk, resident=resident, phone="123", relation="户主")
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.phone.plaintext() == "13800138000" and fresh.relation == ""


# --- households --------------------------------------------------------------------


def test_create_household_numbers_and_audits(tree: Tree, clerk) -> None:
    first = services.create_household(actor=clerk, grid=tree.grid, address="花园路1号")
    second = services.create_household(actor=clerk, grid=tree.grid, address="花园路2号")
    assert first.number == f"{tree.grid.path}0001" and second.number == f"{tree.grid.path}0002"
    assert first.region_path == tree.grid.path
    assert AuditEvent.objects.filter(action="registry.household.create").count() == 2
    with pytest.raises(ValidationError) as info:
        services.create_household(actor=clerk, grid=tree.grid, address=" ", number=first.number, lng=113.0)
    assert set(messages_of(info)) == {"address", "number", "lng"}
    with pytest.raises(ValidationError) as info:
        services.create_household(actor=clerk, grid=tree.street, address="x")
    assert "not a grid" in messages_of(info)["grid"][0]


def test_moving_a_household_moves_its_members(tree: Tree, clerk) -> None:
    household = services.create_household(actor=clerk, grid=tree.grid, address="花园路1号")
    member, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三", household=household)
    services.update_household(actor=clerk, household=household, grid=tree.grid2)
    assert Household.objects.get(pk=household.pk).region_path == tree.grid2.path
    assert Resident.objects.get(pk=member.pk).region_path == tree.grid2.path
    event = AuditEvent.objects.get(action="registry.household.update")
    assert event.detail == {"members_moved": 1}


# --- reveal ------------------------------------------------------------------------


def test_reveal_returns_plaintext_and_logs_one_access_row(tree: Tree, clerk) -> None:
    number = make_id()
    resident, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三", id_number=number)
    value = services.reveal_personal_field(actor=clerk, obj=resident, field="id_number", reason="上门走访")
    assert value == number
    event = AuditEvent.objects.get(action="pii.reveal")
    assert event.category == Category.ACCESS and event.action == "pii.reveal" and event.result == "ok"
    assert event.detail == {"field": "id_number", "reason": "上门走访"}
    assert number not in json.dumps([event.before, event.after, event.detail, event.object_repr])


@pytest.mark.parametrize("who", ["no_permission", "out_of_scope", "anonymous"])
def test_reveal_refused(tree: Tree, who: str) -> None:
    from django.contrib.auth.models import AnonymousUser

    admin = make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)
    resident, _w = services.create_resident(actor=admin, grid=tree.grid, name="张三", phone="13800138000")
    actor = {
        "no_permission": lambda: make_user("viewer", REGISTRY_VIEW, unit=make_unit(tree.street)),
        "out_of_scope": lambda: make_user("other", REGISTRY_ALL, unit=make_unit(tree.other_street)),
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(PermissionDenied):
        services.reveal_personal_field(actor=actor, obj=resident, field="phone", reason="x")
    event = AuditEvent.objects.get(action="pii.reveal")
    assert event.result == "denied" and event.category == Category.ACCESS


def test_reveal_for_grid_worker_only_in_own_grid(tree: Tree) -> None:
    worker = make_user("worker", REGISTRY_ALL, scope=DataScope.GRIDS)
    GridAssignment.objects.create(
        grid=tree.grid, user=worker, role=GridRole.GRID_WORKER, region_path=tree.grid.path, valid_from="2020-01-01"
    )
    admin = make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)
    mine, _w = services.create_resident(actor=admin, grid=tree.grid, name="张三")
    theirs, _w = services.create_resident(actor=admin, grid=tree.grid2, name="李四")
    assert services.reveal_personal_field(actor=worker, obj=mine, field="name", reason="走访") == "张三"
    with pytest.raises(PermissionDenied):
        services.reveal_personal_field(actor=worker, obj=theirs, field="name", reason="走访")


def test_reveal_unknown_field(tree: Tree, clerk) -> None:
    resident, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三")
    with pytest.raises(ValueError):
        services.reveal_personal_field(actor=clerk, obj=resident, field="relation")


def test_reveal_reads_the_stored_value_not_the_passed_object(tree: Tree, clerk) -> None:
    resident, _w = services.create_resident(actor=clerk, grid=tree.grid, name="张三")
    other, _w = services.create_resident(actor=clerk, grid=tree.grid, name="李四")
    resident.name = other.name  # a tampered in-memory object
    assert services.reveal_personal_field(actor=clerk, obj=resident, field="name", reason="x") == "张三"
