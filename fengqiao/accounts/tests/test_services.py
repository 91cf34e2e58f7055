from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fengqiao.accounts import services
from fengqiao.accounts.models import Role, User
from fengqiao.accounts.tests.factories import (
    COMMUNITIES,
    COUNTY,
    PASSWORD,
    STREETS,
    World,
    build_world,
    grant,
    make_role,
)
from fengqiao.audit.models import AuditEvent
from fengqiao.core.scope import DataScope
from fengqiao.units.models import GridAssignment

pytestmark = pytest.mark.django_db

S1, S2 = STREETS
C11, C12, C21, C22 = COMMUNITIES
USER_ADMIN = ["accounts.view_user", "accounts.add_user", "accounts.change_user", "accounts.view_role"]
WORK = ["registry.view_household", "registry.view_resident", "regions.view_region"]


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def street_admin(world: World) -> User:
    """s1: manages accounts of street 1 and below, and does registry work there."""
    role = make_role("street-admin", [*USER_ADMIN, *WORK], DataScope.UNIT_AND_BELOW)
    return grant(world.users["s1"], role)


@pytest.fixture
def worker_role() -> Role:
    return make_role("worker", WORK, DataScope.UNIT_AND_BELOW)


def messages_of(exc: Any) -> str:
    return " ".join(exc.value.messages) if isinstance(exc.value, ValidationError) else str(exc.value)


# --- create_user ---------------------------------------------------------------------------


def test_create_user_in_own_scope(world: World, street_admin: User, worker_role: Role) -> None:
    user = services.create_user(
        actor=street_admin,
        username="zhangsan",
        display_name="张三",
        unit=world.units[f"U-{C11}"],
        roles=[worker_role],
        password="Gongzuo-2024-abc",
        phone="13800138000",
    )
    assert user.check_password("Gongzuo-2024-abc")
    assert list(user.roles.all()) == [worker_role]
    event = AuditEvent.objects.get(action="accounts.user.create")
    assert event.actor_id == street_admin.pk and event.object_id == str(user.pk)
    after = event.after or {}
    assert "password" not in after
    assert event.region_path == C11  # the place of the user's unit
    assert after["unit_id"] == world.units[f"U-{C11}"].pk


def test_create_user_without_password_cannot_log_in(world: World, street_admin: User) -> None:
    user = services.create_user(
        actor=street_admin, username="lisi", display_name="李四", unit=world.units[f"U-{S1}"], roles=[]
    )
    assert not user.has_usable_password()


def test_user_without_unit_is_refused(world: World, street_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_user(actor=street_admin, username="nobody", display_name="x", unit=None, roles=[])
    assert "unit" in exc.value.message_dict
    assert "unit" in messages_of(exc).lower() or "单位" in messages_of(exc)
    assert not User.objects.filter(username="nobody").exists()


def test_unit_outside_scope_is_refused(world: World, street_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_user(actor=street_admin, username="x", display_name="x", unit=world.units[f"U-{S2}"], roles=[])
    assert "unit" in exc.value.message_dict
    assert not User.objects.filter(username="x").exists()


def test_weak_password_and_duplicate_username_are_refused(world: World, street_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            actor=street_admin,
            username="wangwu",
            display_name="王五",
            unit=world.units[f"U-{C11}"],
            roles=[],
            password="12345678",
        )
    assert "password" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            actor=street_admin, username="c11", display_name="x", unit=world.units[f"U-{C11}"], roles=[]
        )
    assert "username" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            actor=street_admin, username="ok1", display_name="x", unit=world.units[f"U-{C11}"], roles=[], phone="abc"
        )
    assert "phone" in exc.value.message_dict
    assert AuditEvent.objects.filter(action="accounts.user.create").count() == 0


def test_actor_without_add_permission_is_refused(world: World) -> None:
    viewer = grant(world.users["s1"], make_role("viewer", ["accounts.view_user"], DataScope.ALL))
    with pytest.raises(PermissionDenied):
        services.create_user(actor=viewer, username="x", display_name="x", unit=world.units[f"U-{S1}"], roles=[])


# --- no privilege escalation ---------------------------------------------------------------


def test_cannot_grant_a_permission_one_does_not_hold(world: World, street_admin: User) -> None:
    reveal = make_role("revealer", ["registry.reveal_resident"], DataScope.UNIT_AND_BELOW)
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            actor=street_admin, username="x", display_name="x", unit=world.units[f"U-{C11}"], roles=[reveal]
        )
    assert "roles" in exc.value.message_dict
    assert "do not hold" in messages_of(exc) or "没有" in messages_of(exc)
    assert not User.objects.filter(username="x").exists()


def test_cannot_grant_a_wider_scope(world: World, street_admin: User) -> None:
    everything = make_role("district-wide", WORK, DataScope.ALL)
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            actor=street_admin, username="x", display_name="x", unit=world.units[f"U-{C11}"], roles=[everything]
        )
    assert "wider" in messages_of(exc) or "超出" in messages_of(exc)
    custom_elsewhere = make_role("elsewhere", WORK, DataScope.CUSTOM, custom_units=[world.units[f"U-{S2}"]])
    with pytest.raises(ValidationError):
        services.create_user(
            actor=street_admin, username="y", display_name="y", unit=world.units[f"U-{C11}"], roles=[custom_elsewhere]
        )


def test_unit_scope_granted_to_a_user_in_a_sub_unit_is_fine(world: World, street_admin: User) -> None:
    unit_role = make_role("unit-only", WORK, DataScope.UNIT)
    custom_inside = make_role("inside", WORK, DataScope.CUSTOM, custom_units=[world.units[f"U-{C12}"]])
    grids = make_role("grids", WORK, DataScope.GRIDS)
    user = services.create_user(
        actor=street_admin,
        username="ok",
        display_name="ok",
        unit=world.units[f"U-{C11}"],
        roles=[unit_role, custom_inside, grids],
    )
    assert user.roles.count() == 3


def test_cannot_assign_a_role_one_may_not_see(world: World) -> None:
    no_role_view = make_role("creator", ["accounts.add_user", "accounts.view_user", *WORK], DataScope.ALL)
    actor = grant(world.users["s1"], no_role_view)
    worker = make_role("worker", WORK, DataScope.UNIT)
    with pytest.raises(ValidationError) as exc:
        services.create_user(actor=actor, username="x", display_name="x", unit=world.units[f"U-{C11}"], roles=[worker])
    assert "worker" in messages_of(exc)


def test_cannot_manage_a_more_privileged_account(world: World, street_admin: User) -> None:
    boss = world.users["c11"]
    boss.roles.add(make_role("district-wide", WORK, DataScope.ALL))  # homed in street 1, sees all
    with pytest.raises(PermissionDenied) as exc:
        services.reset_password(actor=street_admin, user=boss, password="Another-pass-2024")
    assert "c11" in str(exc.value)
    with pytest.raises(PermissionDenied):
        services.deactivate_user(actor=street_admin, user=boss)
    boss.refresh_from_db()
    assert boss.is_active


def test_cannot_widen_own_scope_by_moving_to_a_higher_unit(world: World) -> None:
    # s1 may change users in street 1 and below; moving itself to the district centre is refused
    actor = grant(world.users["s1"], make_role("sa", [*USER_ADMIN, *WORK], DataScope.UNIT_AND_BELOW))
    with pytest.raises(ValidationError) as exc:
        services.update_user(actor=actor, user=actor, unit=world.units[f"U-{COUNTY}"])
    assert "unit" in exc.value.message_dict
    actor.refresh_from_db()
    assert actor.unit is not None and actor.unit.code == f"U-{S1}"


def test_cannot_edit_users_outside_scope(world: World, street_admin: User) -> None:
    with pytest.raises(PermissionDenied) as exc:
        services.update_user(actor=street_admin, user=world.users["c21"], display_name="hacked")
    assert "scope" in str(exc.value) or "范围" in str(exc.value)
    assert User.objects.get(username="c21").display_name == "c21"


def test_superuser_can_do_anything(world: World) -> None:
    root = world.users["root"]
    everything = make_role("everything", WORK, DataScope.ALL)
    user = services.create_user(
        actor=root, username="boss", display_name="x", unit=world.units[f"U-{COUNTY}"], roles=[everything]
    )
    assert list(user.roles.all()) == [everything]


# --- update, roles, activation, passwords --------------------------------------------------


def test_update_and_set_roles_are_audited(world: World, street_admin: User, worker_role: Role) -> None:
    target = world.users["c11"]
    services.update_user(actor=street_admin, user=target, display_name="陈一一", phone="0755-12345678")
    services.set_roles(actor=street_admin, user=target, roles=[worker_role])
    target.refresh_from_db()
    assert target.display_name == "陈一一" and list(target.roles.all()) == [worker_role]
    update, roles = AuditEvent.objects.filter(action="accounts.user.update").order_by("id")
    assert update.before == {"display_name": "c11", "phone": ""}
    assert update.after == {"display_name": "陈一一", "phone": "0755-12345678"}
    assert roles.after == {"roles": [worker_role.pk]}


def test_update_user_refuses_removing_the_unit(world: World, street_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.update_user(actor=street_admin, user=world.users["c11"], unit=None)
    assert "unit" in exc.value.message_dict


def test_deactivate_and_reactivate(world: World, street_admin: User) -> None:
    target = world.users["c12"]
    services.deactivate_user(actor=street_admin, user=target)
    target.refresh_from_db()
    assert not target.is_active
    services.reactivate_user(actor=street_admin, user=target)
    target.refresh_from_db()
    assert target.is_active
    assert AuditEvent.objects.filter(action__in=["accounts.user.deactivate", "accounts.user.reactivate"]).count() == 2


def test_cannot_deactivate_oneself(world: World, street_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.deactivate_user(actor=street_admin, user=street_admin)
    assert "own account" in messages_of(exc) or "自己" in messages_of(exc)


def test_reset_password_validates_and_logs_without_the_password(world: World, street_admin: User) -> None:
    target = world.users["c11"]
    with pytest.raises(ValidationError) as exc:
        services.reset_password(actor=street_admin, user=target, password="1234567890")
    assert "password" in exc.value.message_dict
    services.reset_password(actor=street_admin, user=target, password="Brand-new-pass-77")
    target.refresh_from_db()
    assert target.check_password("Brand-new-pass-77")
    event = AuditEvent.objects.get(action="accounts.user.reset_password")
    assert "Brand-new" not in str(event.before) + str(event.after) + str(event.detail)


def test_change_own_password(world: World) -> None:
    user = world.users["c22"]
    with pytest.raises(ValidationError) as exc:
        services.change_own_password(user=user, old_password="wrong", new_password="Whatever-2024-x")
    assert "old_password" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.change_own_password(user=user, old_password=PASSWORD, new_password="short")
    assert "new_password1" in exc.value.message_dict
    services.change_own_password(user=user, old_password=PASSWORD, new_password="Whatever-2024-x")
    assert User.objects.get(pk=user.pk).check_password("Whatever-2024-x")


def test_grants_follow_role_changes(world: World, street_admin: User, worker_role: Role) -> None:
    from fengqiao.registry.models import Household

    target = User.objects.get(username="c11")
    assert not Household.objects.restrict(target).exists()
    services.set_roles(actor=street_admin, user=target, roles=[worker_role])
    target = User.objects.get(username="c11")
    assert set(Household.objects.restrict(target).values_list("region_path", flat=True)) == {
        f"{C11}001",
        f"{C11}002",
    }


# --- roles ---------------------------------------------------------------------------------

ROLE_ADMIN = ["accounts.view_role", "accounts.add_role", "accounts.change_role", "accounts.delete_role"]


@pytest.fixture
def role_admin(world: World) -> User:
    return grant(world.users["s1"], make_role("role-admin", [*ROLE_ADMIN, *WORK], DataScope.UNIT_AND_BELOW))


def test_create_role(world: World, role_admin: User) -> None:
    role = services.create_role(
        actor=role_admin,
        code="street-helpdesk",
        name="街道服务台",
        data_scope=DataScope.CUSTOM,
        permissions=["registry.view_household"],
        custom_units=[world.units[f"U-{C11}"]],
    )
    assert role.custom_units.count() == 1
    assert AuditEvent.objects.filter(action="accounts.role.create", object_id=str(role.pk)).exists()


def test_create_role_input_errors(world: World, role_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_role(actor=role_admin, code="Bad Code!", name="", data_scope="galaxy", permissions=["x.y"])
    errors = exc.value.message_dict
    assert set(errors) == {"code", "name", "data_scope", "permissions"}
    with pytest.raises(ValidationError) as exc:
        services.create_role(
            actor=role_admin, code="c1", name="c", data_scope=DataScope.CUSTOM, permissions=["regions.view_region"]
        )
    assert "custom_units" in exc.value.message_dict
    make_role("taken", [])
    with pytest.raises(ValidationError) as exc:
        services.create_role(actor=role_admin, code="taken", name="t", data_scope=DataScope.UNIT)
    assert "code" in exc.value.message_dict
    assert not Role.objects.filter(code="c1").exists()


def test_create_role_no_escalation(world: World, role_admin: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_role(
            actor=role_admin, code="r1", name="r", data_scope=DataScope.UNIT, permissions=["registry.reveal_resident"]
        )
    assert "permissions" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.create_role(
            actor=role_admin, code="r2", name="r", data_scope=DataScope.ALL, permissions=["registry.view_household"]
        )
    with pytest.raises(ValidationError):
        services.create_role(
            actor=role_admin,
            code="r3",
            name="r",
            data_scope=DataScope.CUSTOM,
            permissions=["registry.view_household"],
            custom_units=[world.units[f"U-{S2}"]],
        )
    assert not Role.objects.filter(code__in=["r1", "r2", "r3"]).exists()


def test_update_role_cannot_widen_own_role(world: World, role_admin: User) -> None:
    own = role_admin.roles.get()
    with pytest.raises(ValidationError):
        services.update_role(actor=role_admin, role=own, data_scope=DataScope.ALL)
    with pytest.raises(ValidationError):
        services.update_role(actor=role_admin, role=own, permissions=[*ROLE_ADMIN, *WORK, "registry.reveal_resident"])


def test_update_role_holders_must_stay_within_actor(world: World, role_admin: User) -> None:
    # a unit-scoped role held by someone in street 2: making it wider reaches beyond s1's scope
    shared = make_role("shared", ["registry.view_household"], DataScope.SELF)
    world.users["c21"].roles.add(shared)
    with pytest.raises(ValidationError) as exc:
        services.update_role(actor=role_admin, role=shared, data_scope=DataScope.UNIT_AND_BELOW)
    assert "people" in messages_of(exc) or "人员" in messages_of(exc)
    # held only inside street 1: fine
    world.users["c21"].roles.remove(shared)
    world.users["c11"].roles.add(shared)
    services.update_role(actor=role_admin, role=shared, data_scope=DataScope.UNIT_AND_BELOW)
    assert Role.objects.get(pk=shared.pk).data_scope == DataScope.UNIT_AND_BELOW


def test_cannot_edit_a_role_beyond_oneself(world: World, role_admin: User) -> None:
    admin_like = make_role("big", ["registry.view_household", "registry.reveal_resident"], DataScope.ALL)
    with pytest.raises(PermissionDenied):
        services.update_role(actor=role_admin, role=admin_like, permissions=["registry.view_household"])


def test_builtin_roles_edit_permissions_only_and_are_never_deleted(world: World) -> None:
    from fengqiao.accounts.roles import sync_builtin_roles

    roles = sync_builtin_roles()
    root = world.users["root"]
    judge = roles["judge"]
    services.update_role(actor=root, role=judge, permissions=["regions.view_region"])
    assert {p.codename for p in judge.permissions.all()} == {"view_region"}
    with pytest.raises(ValidationError) as exc:
        services.update_role(actor=root, role=judge, data_scope=DataScope.ALL)
    assert "data_scope" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.update_role(actor=root, role=judge, name="法官甲")
    assert "name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.delete_role(actor=root, role=judge)
    assert "Built-in" in messages_of(exc) or "内置" in messages_of(exc)
    assert Role.objects.filter(code="judge").exists()


def test_delete_role_refused_while_held(world: World) -> None:
    root = world.users["root"]
    role = make_role("temp", ["regions.view_region"], DataScope.UNIT)
    world.users["c11"].roles.add(role)
    with pytest.raises(ValidationError) as exc:
        services.delete_role(actor=root, role=role)
    assert "1" in messages_of(exc)
    world.users["c11"].roles.remove(role)
    services.delete_role(actor=root, role=role)
    assert not Role.objects.filter(code="temp").exists()
    assert AuditEvent.objects.filter(action="accounts.role.delete").exists()


def test_grid_worker_grants_checked_against_the_targets_grids(world: World) -> None:
    # community centre 11 admin (unit and below at C11) may give a grids role to gw11 (grids inside C11)
    actor = grant(world.users["c11"], make_role("ca", [*USER_ADMIN, *WORK], DataScope.UNIT_AND_BELOW))
    grids = make_role("grids", WORK, DataScope.GRIDS)
    services.set_roles(actor=actor, user=world.users["gw11"], roles=[grids])
    # gw11 later gets duty in community 21 (outside c11's scope): c11 can no longer manage it
    GridAssignment.objects.create(
        grid=world.regions[f"{C21}002"],
        user=world.users["gw11"],
        role="grid_worker",
        region_path=f"{C21}002",
        valid_from=world.assignments[f"gw11@{C11}001"].valid_from,
    )
    with pytest.raises(PermissionDenied):
        services.update_user(actor=actor, user=world.users["gw11"], display_name="x")
