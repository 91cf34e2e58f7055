"""Registry pages: scope, masking, search, paging, export, forms and the logged reveal."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent, Category
from fengqiao.core import crypto
from fengqiao.core.scope import DataScope
from fengqiao.registry import selectors, services
from fengqiao.registry.models import Household, Resident

from .factories import REGISTRY_ALL, REGISTRY_VIEW, Tree, make_household, make_id, make_tree, make_unit, make_user

pytestmark = pytest.mark.django_db

NUMBER = make_id("110105", "19900307", 123)


@pytest.fixture
def tree() -> Tree:
    return make_tree()


@pytest.fixture
def clerk(tree: Tree) -> Any:
    return make_user("clerk", REGISTRY_ALL, unit=make_unit(tree.street))


@pytest.fixture
def admin() -> Any:
    return make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)


def client_for(user: Any, lang: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


@pytest.fixture
def people(tree: Tree, admin: Any) -> dict[str, Resident]:
    inside, _w = services.create_resident(
        actor=admin, grid=tree.grid, name="王小明", id_number=NUMBER, phone="13800138000"
    )
    neighbour, _w = services.create_resident(actor=admin, grid=tree.grid2, name="李梅")
    outside, _w = services.create_resident(
        actor=admin, grid=tree.other_grid, name="赵大山", id_number=make_id(seq=125), phone="13900139000"
    )
    return {"inside": inside, "neighbour": neighbour, "outside": outside}


# --- list ----------------------------------------------------------------------------


def test_list_needs_permission(tree: Tree) -> None:
    nobody = make_user("nobody", (), unit=make_unit(tree.street))
    assert client_for(nobody).get(reverse("registry:resident_list")).status_code == 403
    assert Client().get(reverse("registry:resident_list")).status_code == 302  # to the login page


def test_list_is_scoped_masked_and_never_decrypts(people: dict[str, Resident], clerk: Any) -> None:
    with mock.patch.object(crypto, "decrypt", side_effect=AssertionError("the list decrypted something")):
        response = client_for(clerk).get(reverse("registry:resident_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert people["inside"].name_masked in html and people["inside"].id_number_masked in html
    assert "138****8000" in html
    assert "王小明" not in html and NUMBER not in html and "13800138000" not in html
    assert people["outside"].id_number_masked not in html  # another street
    assert response.context["page"].paginator.count == 2


def test_list_query_count_is_constant(people: dict[str, Resident], clerk: Any, django_assert_max_num_queries) -> None:
    client = client_for(clerk)
    with django_assert_max_num_queries(12):
        client.get(reverse("registry:resident_list"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (NUMBER, {"inside"}),
        (f"{NUMBER[:6]} {NUMBER[6:]}".lower(), {"inside"}),
        ("138 0013 8000", {"inside"}),
        ("+86 13800138000", {"inside"}),
        ("王小明", {"inside"}),
        ("李梅", {"neighbour"}),
        ("王小", set()),  # partial names do not match: search is exact
        ("1380013", set()),
        ("赵大山", set()),  # exists, but outside the clerk's street
    ],
)
def test_search_is_exact_through_the_blind_index(
    people: dict[str, Resident], clerk: Any, query: str, expected: set[str]
) -> None:
    response = client_for(clerk).get(reverse("registry:resident_list"), {"q": query})
    found = {key for key, r in people.items() if r in response.context["page"].object_list}
    assert found == expected


def test_filter_by_community_and_grid(people: dict[str, Resident], clerk: Any, tree: Tree) -> None:
    client = client_for(clerk)
    by_community = client.get(reverse("registry:resident_list"), {"community": tree.community2.path})
    assert list(by_community.context["page"].object_list) == [people["neighbour"]]
    by_grid = client.get(reverse("registry:resident_list"), {"community": tree.community.path, "grid": tree.grid.path})
    assert list(by_grid.context["page"].object_list) == [people["inside"]]
    # a path outside the clerk's scope shows nothing, a malformed one too
    assert (
        client.get(reverse("registry:resident_list"), {"grid": tree.other_grid.path}).context["page"].paginator.count
        == 0
    )
    assert client.get(reverse("registry:resident_list"), {"grid": "44' OR 1=1"}).context["page"].paginator.count == 0


def test_grid_options_for_a_community(clerk: Any, tree: Tree) -> None:
    response = client_for(clerk).get(reverse("registry:grid_options"), {"community": tree.community.path})
    html = response.content.decode()
    assert tree.grid.name in html and tree.grid2.name not in html


def test_paging_25(tree: Tree, admin: Any) -> None:
    Resident.objects.bulk_create(
        [Resident(grid=tree.grid, region_path=tree.grid.path, name_masked=f"张{i}") for i in range(30)]
    )
    client = client_for(admin)
    first = client.get(reverse("registry:resident_list"))
    assert len(first.context["page"].object_list) == 25
    assert "page=2" in first.content.decode()
    second = client.get(reverse("registry:resident_list"), {"page": 2})
    assert len(second.context["page"].object_list) == 5
    assert client.get(reverse("registry:resident_list"), {"page": "zzz"}).status_code == 200


def test_resident_list_selector_has_the_benchmarked_shape(clerk: Any) -> None:
    qs = selectors.resident_list(clerk, {})
    sql = str(qs.query)
    assert 'ORDER BY "registry_resident"."region_path" ASC, "registry_resident"."id" ASC' in sql
    assert "regions_region" in sql  # select_related("grid")
    params = qs.query.sql_with_params()[1]
    assert "440399001" in params and "440399002" in params  # the street's path range, not LIKE


# --- export --------------------------------------------------------------------------


def test_export_is_scoped_masked_and_logged(people: dict[str, Resident], clerk: Any) -> None:
    response = client_for(clerk).get(reverse("registry:resident_export"), {"community": ""})
    assert response.status_code == 200
    data = response.getvalue()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3  # header + 2
    flat = " ".join(str(v) for row in rows for v in row)
    assert people["inside"].id_number_masked in flat and "138****8000" in flat
    assert "王小明" not in flat and NUMBER not in flat and people["outside"].id_number_masked not in flat
    event = AuditEvent.objects.get(action="registry.resident.export")
    assert event.category == Category.ACCESS and (event.detail or {})["rows"] == 2


# --- detail and reveal ------------------------------------------------------------


def test_detail_masked_and_404_out_of_scope(people: dict[str, Resident], clerk: Any) -> None:
    client = client_for(clerk)
    response = client.get(reverse("registry:resident_detail", args=[people["inside"].pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert people["inside"].id_number_masked in html and NUMBER not in html and "王小明" not in html
    assert reverse("registry:resident_reveal", args=[people["inside"].pk, "id_number"]) in html
    assert client.get(reverse("registry:resident_detail", args=[people["outside"].pk])).status_code == 404
    assert client.get(reverse("registry:resident_detail", args=[999999])).status_code == 404


def reveal(client: Client, resident: Resident, field: str, reason: str = "走访核实", htmx: bool = True) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("registry:resident_reveal", args=[resident.pk, field])
    return client.post(url, {"reason": reason}, headers=headers)


def test_reveal_shows_plaintext_once_and_logs_it(people: dict[str, Resident], clerk: Any) -> None:
    client = client_for(clerk)
    response = reveal(client, people["inside"], "id_number")
    assert response.status_code == 200
    assert NUMBER in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="pii.reveal")
    assert event.category == Category.ACCESS and event.actor == clerk
    assert event.detail == {"field": "id_number", "reason": "走访核实"}
    assert event.object_id == str(people["inside"].pk)
    # the page itself still shows the mask
    assert NUMBER not in client.get(reverse("registry:resident_detail", args=[people["inside"].pk])).content.decode()


def test_reveal_without_htmx_renders_the_detail_page(people: dict[str, Resident], clerk: Any) -> None:
    response = reveal(client_for(clerk), people["inside"], "phone", htmx=False)
    html = response.content.decode()
    assert response.status_code == 200 and "13800138000" in html and "<html" in html


def test_reveal_needs_a_reason(people: dict[str, Resident], clerk: Any) -> None:
    response = reveal(client_for(clerk), people["inside"], "id_number", reason="  ")
    assert response.status_code == 200
    assert NUMBER not in response.content.decode()
    assert "reason" in response.content.decode()
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()


def test_reveal_without_permission_is_404_and_logged(people: dict[str, Resident], tree: Tree) -> None:
    viewer = make_user("viewer", REGISTRY_VIEW, unit=make_unit(tree.street))
    client = client_for(viewer)
    detail = client.get(reverse("registry:resident_detail", args=[people["inside"].pk]))
    assert detail.status_code == 200
    assert reverse("registry:resident_reveal", args=[people["inside"].pk, "id_number"]) not in detail.content.decode()
    response = reveal(client, people["inside"], "id_number")
    assert response.status_code == 404 and NUMBER.encode() not in response.content
    assert AuditEvent.objects.get(action="pii.reveal").result == "denied"


def test_reveal_out_of_scope_is_404(people: dict[str, Resident], clerk: Any) -> None:
    response = reveal(client_for(clerk), people["outside"], "phone")
    assert response.status_code == 404 and b"13900139000" not in response.content
    assert not AuditEvent.objects.filter(action="pii.reveal", result="ok").exists()
    # a non-existing resident looks the same
    assert reveal(client_for(clerk), Resident(pk=999999), "phone").status_code == 404


def test_reveal_unknown_field_and_get(people: dict[str, Resident], clerk: Any) -> None:
    client = client_for(clerk)
    assert reveal(client, people["inside"], "relation").status_code == 404
    url = reverse("registry:resident_reveal", args=[people["inside"].pk, "phone"])
    assert client.get(url).status_code == 405


# --- forms -------------------------------------------------------------------------


def test_create_form_errors_next_to_fields_and_input_kept(tree: Tree, clerk: Any) -> None:
    bad_id = NUMBER[:-1] + ("0" if NUMBER[-1] != "0" else "1")
    response = client_for(clerk).post(
        reverse("registry:resident_create"),
        {"grid": tree.grid.pk, "name": "王小明", "id_number": bad_id, "phone": "12345"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "check digit" in form.errors["id_number"][0]
    assert "010-12345678" in form.errors["phone"][0]
    html = response.content.decode()
    assert f'value="{bad_id}"' in html and 'value="王小明"' in html
    assert not Resident.objects.exists()


def test_create_form_refuses_a_non_grid_region(tree: Tree, clerk: Any) -> None:
    response = client_for(clerk).post(reverse("registry:resident_create"), {"grid": tree.community.pk, "name": "王"})
    assert response.status_code == 200 and "grid" in response.context["form"].errors
    assert not Resident.objects.exists()


def test_create_form_duplicate_id(people: dict[str, Resident], tree: Tree, clerk: Any) -> None:
    response = client_for(clerk).post(
        reverse("registry:resident_create"), {"grid": tree.grid.pk, "name": "王小明", "id_number": NUMBER}
    )
    assert "already registered" in response.context["form"].errors["id_number"][0]
    assert Resident.objects.count() == 3


def test_create_form_success_with_warning(tree: Tree, clerk: Any) -> None:
    household = make_household(tree.grid)
    client = client_for(clerk)
    response = client.post(
        reverse("registry:resident_create"),
        {
            "grid": tree.grid.pk,
            "name": "钱七",
            "id_number": make_id("999999", "19850101", 131),
            "phone": "010-12345678",
            "household_number": household.number,
            "relation": "户主",
        },
        follow=True,
    )
    resident = Resident.objects.get()
    assert response.redirect_chain[-1][0] == reverse("registry:resident_detail", args=[resident.pk])
    texts = [str(m) for m in response.context["messages"]]
    assert any("999999" in t for t in texts)
    assert resident.household == household and resident.phone.plaintext() == "01012345678"


def test_create_needs_permission(tree: Tree) -> None:
    viewer = make_user("viewer", REGISTRY_VIEW, unit=make_unit(tree.street))
    assert client_for(viewer).get(reverse("registry:resident_create")).status_code == 403


def test_edit_keeps_personal_fields_when_left_empty(people: dict[str, Resident], tree: Tree, clerk: Any) -> None:
    resident = people["inside"]
    client = client_for(clerk)
    page = client.get(reverse("registry:resident_edit", args=[resident.pk]))
    assert page.status_code == 200 and NUMBER not in page.content.decode()
    response = client.post(
        reverse("registry:resident_edit", args=[resident.pk]),
        {"grid": tree.grid.pk, "name": "", "id_number": "", "phone": "", "relation": "户主"},
    )
    assert response.status_code == 302
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.name.plaintext() == "王小明" and fresh.id_number.plaintext() == NUMBER
    assert fresh.phone.plaintext() == "13800138000" and fresh.relation == "户主"
    client.post(
        reverse("registry:resident_edit", args=[resident.pk]),
        {"grid": tree.grid.pk, "clear_phone": "on", "relation": "户主"},
    )
    assert Resident.objects.get(pk=resident.pk).phone == ""


def test_edit_out_of_scope_is_404(people: dict[str, Resident], clerk: Any) -> None:
    assert client_for(clerk).get(reverse("registry:resident_edit", args=[people["outside"].pk])).status_code == 404


# --- households --------------------------------------------------------------------


def test_household_pages(tree: Tree, clerk: Any, admin: Any) -> None:
    client = client_for(clerk)
    response = client.post(reverse("registry:household_create"), {"grid": tree.grid.pk, "address": "花园路8号"})
    household = Household.objects.get()
    assert response.status_code == 302 and household.number == f"{tree.grid.path}0001"
    services.create_resident(actor=clerk, grid=tree.grid, name="王小明", household=household)
    far = services.create_household(actor=admin, grid=tree.other_grid, address="山前路1号")
    listing = client.get(reverse("registry:household_list"), {"q": "花园"})
    assert list(listing.context["page"].object_list) == [household]
    detail = client.get(reverse("registry:household_detail", args=[household.pk]))
    assert "王**" in detail.content.decode() and "王小明" not in detail.content.decode()
    assert client.get(reverse("registry:household_detail", args=[far.pk])).status_code == 404
    bad = client.post(reverse("registry:household_create"), {"grid": tree.grid.pk, "address": "", "lng": "113"})
    assert bad.status_code == 200 and "address" in bad.context["form"].errors
    edit = client.post(
        reverse("registry:household_edit", args=[household.pk]), {"grid": tree.grid2.pk, "address": "河畔路1号"}
    )
    assert edit.status_code == 302
    assert Resident.objects.get().region_path == tree.grid2.path
    export = client.get(reverse("registry:household_export"))
    rows = list(load_workbook(io.BytesIO(export.getvalue())).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2


def test_pages_render_in_chinese(people: dict[str, Resident], clerk: Any) -> None:
    client = client_for(clerk, lang="zh-hans")
    html = client.get(reverse("registry:resident_list")).content.decode()
    assert "居民" in html and "Residents" not in html
    html = client.get(reverse("registry:resident_detail", args=[people["inside"].pk])).content.decode()
    assert "Reveal" not in html
