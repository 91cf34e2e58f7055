"""Staff pages, NetBox style: without the permission, with it, and constrained by scope."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from fengqiao.accounts.models import Role, User
from fengqiao.accounts.roles import sync_builtin_roles
from fengqiao.accounts.tests.factories import COMMUNITIES, STREETS, World, build_world, grant, make_role, make_user
from fengqiao.core.scope import DataScope

pytestmark = pytest.mark.django_db

S1, S2 = STREETS
C11, C12, C21, C22 = COMMUNITIES
USER_ADMIN = ["accounts.view_user", "accounts.add_user", "accounts.change_user", "accounts.view_role"]
ROLE_ADMIN = ["accounts.view_role", "accounts.add_role", "accounts.change_role", "accounts.delete_role"]


@pytest.fixture
def world() -> World:
    return build_world()


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def street_admin(world: World) -> User:
    return grant(world.users["s1"], make_role("street-admin", USER_ADMIN, DataScope.UNIT_AND_BELOW))


def sheet_rows(response: Any) -> list[tuple[Any, ...]]:
    content = b"".join(response.streaming_content)
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return list(ws.iter_rows(values_only=True))


# --- without permission ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/users/",
        "/accounts/users/export/",
        "/accounts/users/new/",
        "/accounts/roles/",
        "/accounts/roles/export/",
        "/accounts/roles/new/",
    ],
)
def test_anonymous_is_sent_to_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/users/",
        "/accounts/users/export/",
        "/accounts/users/new/",
        "/accounts/roles/",
        "/accounts/roles/export/",
        "/accounts/roles/new/",
    ],
)
def test_without_permission_403(world: World, url: str) -> None:
    assert login(world.users["c22"]).get(url).status_code == 403


def test_detail_without_permission_is_refused(world: World) -> None:
    client = login(world.users["c22"])
    assert client.get(f"/accounts/users/{world.users['c21'].pk}/").status_code == 403
    role = make_role("r", [])
    assert client.get(f"/accounts/roles/{role.pk}/").status_code == 403


# --- with permission, constrained by scope --------------------------------------------------


def test_user_list_shows_only_users_in_scope(world: World, street_admin: User) -> None:
    response = login(street_admin).get("/accounts/users/")
    assert response.status_code == 200
    shown = {u.username for u in response.context["page"].object_list}
    assert shown == {"s1", "c11", "c12", "gw11"}
    assert "Export" in response.content.decode() or "导出" in response.content.decode()


def test_user_list_filters_and_htmx_partial(world: World, street_admin: User) -> None:
    client = login(street_admin)
    unit = world.units[f"U-{C11}"]
    response = client.get("/accounts/users/", {"unit": unit.pk}, HTTP_HX_REQUEST="true")
    assert {u.username for u in response.context["page"].object_list} == {"c11", "gw11"}
    assert "<html" not in response.content.decode()  # only the table
    response = client.get("/accounts/users/", {"q": "gw"})
    assert {u.username for u in response.context["page"].object_list} == {"gw11"}
    world.users["c12"].is_active = False
    world.users["c12"].save()
    response = client.get("/accounts/users/", {"active": "0"})
    assert {u.username for u in response.context["page"].object_list} == {"c12"}
    role = make_role("x", [])
    world.users["c11"].roles.add(role)
    response = client.get("/accounts/users/", {"role": role.pk})
    assert {u.username for u in response.context["page"].object_list} == {"c11"}


def test_user_list_unit_filter_offers_only_visible_units(world: World) -> None:
    actor = grant(
        world.users["s1"],
        make_role("sa", USER_ADMIN, DataScope.UNIT_AND_BELOW),
        make_role("units", ["units.view_unit"], DataScope.UNIT_AND_BELOW),
    )
    response = login(actor).get("/accounts/users/")
    offered = {u.code for u in response.context["filter"].fields["unit"].queryset}
    assert offered == {f"U-{S1}", f"U-{C11}", f"U-{C12}"}
    # a unit outside the scope in the query string is rejected by the form, not used
    other = world.units[f"U-{S2}"]
    response = login(actor).get("/accounts/users/", {"unit": other.pk})
    assert not response.context["filter"].is_valid()


def test_user_export_is_restricted_and_filtered(world: World, street_admin: User) -> None:
    world.users["c11"].phone = "13812345678"
    world.users["c11"].save()
    response = login(street_admin).get("/accounts/users/export/")
    assert response.status_code == 200
    rows = sheet_rows(response)
    assert {row[0] for row in rows[1:]} == {"s1", "c11", "c12", "gw11"}
    assert "138****5678" in [row[4] for row in rows]
    response = login(street_admin).get("/accounts/users/export/", {"q": "gw"})
    assert [row[0] for row in sheet_rows(response)[1:]] == ["gw11"]
    from fengqiao.audit.models import AuditEvent

    events = AuditEvent.objects.filter(action="accounts.user.export", actor=street_admin).order_by("pk")
    assert [e.detail for e in events] == [{"filters": {}, "rows": 4}, {"filters": {"q": "gw"}, "rows": 1}]


def test_user_detail_out_of_scope_is_404_like_missing(world: World, street_admin: User) -> None:
    client = login(street_admin)
    assert client.get(f"/accounts/users/{world.users['c11'].pk}/").status_code == 200
    assert client.get(f"/accounts/users/{world.users['c21'].pk}/").status_code == 404
    assert client.get("/accounts/users/999999/").status_code == 404
    assert client.get(f"/accounts/users/{world.users['c21'].pk}/edit/").status_code == 404
    assert client.post(f"/accounts/users/{world.users['c21'].pk}/deactivate/").status_code == 404
    assert User.objects.get(username="c21").is_active


def test_view_scope_does_not_give_change(world: World) -> None:
    actor = grant(
        world.users["s1"],
        make_role("viewer", ["accounts.view_user"], DataScope.ALL),
        make_role("editor", ["accounts.change_user"], DataScope.UNIT),
    )
    client = login(actor)
    assert client.get(f"/accounts/users/{world.users['c21'].pk}/").status_code == 200
    assert client.get(f"/accounts/users/{world.users['c21'].pk}/edit/").status_code == 404
    assert client.get(f"/accounts/users/{actor.pk}/edit/").status_code == 200


def test_create_user_through_the_form(world: World, street_admin: User) -> None:
    client = login(street_admin)
    worker = make_role("worker", ["accounts.view_user"], DataScope.UNIT)
    page = client.get("/accounts/users/new/")
    assert page.status_code == 200
    assert {u.code for u in page.context["form"].fields["unit"].queryset} == set()  # no units.view_unit
    street_admin.roles.add(make_role("units", ["units.view_unit"], DataScope.UNIT_AND_BELOW))
    client = login(User.objects.get(pk=street_admin.pk))
    data = {
        "username": "zhaoliu",
        "display_name": "赵六",
        "unit": world.units[f"U-{C12}"].pk,
        "roles": [worker.pk],
        "password1": "Zhaoliu-pass-2024",
        "password2": "Zhaoliu-pass-2024",
    }
    response = client.post("/accounts/users/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    created = User.objects.get(username="zhaoliu")
    assert created.unit == world.units[f"U-{C12}"] and list(created.roles.all()) == [worker]


def test_create_user_form_errors_are_shown(world: World, street_admin: User) -> None:
    street_admin.roles.add(make_role("units", ["units.view_unit"], DataScope.ALL))
    client = login(User.objects.get(pk=street_admin.pk))
    data = {
        "username": "x1",
        "display_name": "x",
        "unit": world.units[f"U-{S2}"].pk,  # visible (units.view_unit is ALL) but outside the user scope
        "password1": "Abcdefgh-2024",
        "password2": "Different-2024",
    }
    response = client.post("/accounts/users/new/", data)
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    data["password2"] = data["password1"]
    response = client.post("/accounts/users/new/", data)
    assert "unit" in response.context["form"].errors
    data.update(unit=world.units[f"U-{C11}"].pk, password1="123", password2="123")
    response = client.post("/accounts/users/new/", data)
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(username="x1").exists()


def test_edit_keeps_roles_the_actor_cannot_see(world: World) -> None:
    actor = grant(world.users["root"])
    client = login(actor)
    target = world.users["c11"]
    role = make_role("kept", [])
    target.roles.add(role)
    response = client.post(
        f"/accounts/users/{target.pk}/edit/",
        {"display_name": "新名字", "unit": target.unit_id, "roles": [role.pk], "phone": "", "email": ""},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.display_name == "新名字" and list(target.roles.all()) == [role]


def test_deactivate_reactivate_and_password_pages(world: World, street_admin: User) -> None:
    client = login(street_admin)
    target = world.users["c12"]
    assert client.get(f"/accounts/users/{target.pk}/deactivate/").status_code == 405
    response = client.post(f"/accounts/users/{target.pk}/deactivate/", follow=True)
    assert response.status_code == 200
    assert not User.objects.get(pk=target.pk).is_active
    client.post(f"/accounts/users/{target.pk}/reactivate/")
    assert User.objects.get(pk=target.pk).is_active
    response = client.post(f"/accounts/users/{street_admin.pk}/deactivate/", follow=True)
    assert User.objects.get(pk=street_admin.pk).is_active
    assert list(response.context["messages"])
    response = client.post(f"/accounts/users/{target.pk}/password/", {"password1": "12345678", "password2": "12345678"})
    assert "password1" in response.context["form"].errors
    response = client.post(
        f"/accounts/users/{target.pk}/password/", {"password1": "Fresh-pass-2024", "password2": "Fresh-pass-2024"}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=target.pk).check_password("Fresh-pass-2024")


def test_my_account_changes_own_password(world: World) -> None:
    user = world.users["c22"]
    client = login(user)
    assert client.get("/accounts/me/").status_code == 200
    response = client.post(
        "/accounts/me/", {"old_password": "bad", "new_password1": "Mine-new-2024", "new_password2": "Mine-new-2024"}
    )
    assert "old_password" in response.context["form"].errors
    response = client.post(
        "/accounts/me/",
        {"old_password": "Fq-test-pass-2024", "new_password1": "Mine-new-2024", "new_password2": "Mine-new-2024"},
    )
    assert response.status_code == 302
    assert client.get("/accounts/me/").status_code == 200  # still logged in
    assert User.objects.get(pk=user.pk).check_password("Mine-new-2024")


# --- roles ---------------------------------------------------------------------------------


def test_role_pages(world: World) -> None:
    sync_builtin_roles()
    actor = grant(world.users["root"])
    client = login(actor)
    response = client.get("/accounts/roles/")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 13
    judge = Role.objects.get(code="judge")
    response = client.get(f"/accounts/roles/{judge.pk}/")
    assert response.status_code == 200
    assert client.get("/accounts/roles/999999/").status_code == 404
    response = client.get(f"/accounts/roles/{judge.pk}/edit/")
    assert response.status_code == 200
    assert response.context["form"].fields["data_scope"].disabled
    rows = sheet_rows(client.get("/accounts/roles/export/"))
    assert len(rows) == 14 and rows[0][0] in ("Code", "代码", "编码")


def test_role_create_and_edit_through_the_form(world: World) -> None:
    actor = grant(world.users["root"])
    client = login(actor)
    page = client.get("/accounts/roles/new/")
    names = {cell.name for group in page.context["matrix"] for row in group.rows for cell in row.cells if cell}
    assert "registry.view_resident" in names
    extra = {cell.name for group in page.context["matrix"] for row in group.rows for cell in row.extra}
    assert "registry.reveal_resident" in extra
    data: dict[str, Any] = {
        "code": "helpdesk",
        "name": "服务台",
        "description": "",
        "data_scope": "custom",
        "permissions": ["registry.view_household", "registry.reveal_resident"],
    }
    response = client.post("/accounts/roles/new/", data)
    assert "custom_units" in response.context["form"].errors  # custom scope without units
    data["custom_units"] = [world.units[f"U-{C11}"].pk]
    response = client.post("/accounts/roles/new/", data)
    assert response.status_code == 302
    role = Role.objects.get(code="helpdesk")
    assert role.custom_units.count() == 1 and role.permissions.count() == 2
    data.update(permissions=["registry.view_household"], data_scope="unit")
    response = client.post(f"/accounts/roles/{role.pk}/edit/", data)
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.data_scope == "unit" and role.permissions.count() == 1 and role.custom_units.count() == 0


def test_role_delete(world: World) -> None:
    client = login(world.users["root"])
    role = make_role("temp", [])
    world.users["c11"].roles.add(role)
    response = client.post(f"/accounts/roles/{role.pk}/delete/", follow=True)
    assert Role.objects.filter(pk=role.pk).exists()
    assert list(response.context["messages"])
    world.users["c11"].roles.remove(role)
    client.post(f"/accounts/roles/{role.pk}/delete/")
    assert not Role.objects.filter(pk=role.pk).exists()


def test_role_list_counts_only_holders_in_scope(world: World) -> None:
    actor = grant(world.users["s1"], make_role("ra", [*ROLE_ADMIN, "accounts.view_user"], DataScope.UNIT_AND_BELOW))
    shared = make_role("shared", [])
    for name in ("c11", "c21", "c22"):
        world.users[name].roles.add(shared)
    response = login(actor).get("/accounts/roles/", {"q": "shared"})
    (row,) = response.context["page"].object_list
    assert row.user_count == 1
    # without accounts.view_user the count is zero rather than an error
    other = grant(world.users["s2"], make_role("ro", ["accounts.view_role"], DataScope.ALL))
    response = login(other).get("/accounts/roles/", {"q": "shared"})
    assert response.context["page"].object_list[0].user_count == 0


def test_nav_entries_follow_permissions(world: World, street_admin: User) -> None:
    body = login(street_admin).get("/accounts/me/").content.decode()
    assert reverse("accounts:user_list") in body
    assert reverse("accounts:role_list") in body
    body = login(world.users["c22"]).get("/accounts/me/").content.decode()
    assert reverse("accounts:user_list") not in body
    assert reverse("accounts:my_account") in body


# --- query cost ------------------------------------------------------------------------------


def test_user_list_has_no_n_plus_one(world: World) -> None:
    actor = grant(world.users["root"])
    client = login(actor)
    roles = [make_role(f"r{i}", []) for i in range(3)]
    with CaptureQueriesContext(connection) as few:
        client.get("/accounts/users/")
    for i in range(30):
        user = make_user(f"extra{i:02d}", world.units[f"U-{C21}"])
        user.roles.add(*roles)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/accounts/users/")
    assert len(response.context["page"].object_list) == 25
    assert len(many.captured_queries) <= len(few.captured_queries) + 1, [q["sql"] for q in many.captured_queries]


def test_restricted_user_list_queries_are_bounded(
    world: World, street_admin: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(20):
        make_user(f"more{i:02d}", world.units[f"U-{C12}"]).roles.add(make_role(f"m{i}", []))
    client = login(street_admin)
    client.get("/accounts/users/")  # warm up (session, content types)
    with django_assert_max_num_queries(12):
        client.get("/accounts/users/")


def test_role_export_counts_only_the_holders_in_scope(world: World, street_admin: User) -> None:
    """Roles are shared reference data, but the number of people holding one counts only the visible people."""
    role = make_role("patrol", ["registry.view_resident"], DataScope.UNIT)
    for username in ("c11", "gw11", "c21", "c22"):  # two in 粤海街道 (the admin's street), two outside
        world.users[username].roles.add(role)
    rows = sheet_rows(login(street_admin).get("/accounts/roles/export/", {"q": "patrol"}))
    assert [(r[0], r[5]) for r in rows[1:]] == [("patrol", 2)]
    rows = sheet_rows(login(grant(world.users["root"])).get("/accounts/roles/export/", {"q": "patrol"}))
    assert [(r[0], r[5]) for r in rows[1:]] == [("patrol", 4)]
    from fengqiao.audit.models import AuditEvent

    event = AuditEvent.objects.filter(action="accounts.role.export").latest("pk")
    assert event.detail == {"filters": {"q": "patrol"}, "rows": 1}
