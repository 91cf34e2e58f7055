"""Special groups (sensitive ones hidden), memberships on the resident page, places and organisations."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.core.scope import DataScope
from fengqiao.registry import place_services, selectors, services
from fengqiao.registry.models import GroupMembership, Organisation, Place, PlaceKind, SpecialGroup

from .factories import REGISTRY_ALL, Tree, make_id, make_resident, make_tree, make_unit, make_user

pytestmark = pytest.mark.django_db

GROUP_PERMS = (
    *REGISTRY_ALL,
    "registry.view_groupmembership",
    "registry.add_groupmembership",
    "registry.change_groupmembership",
    "registry.delete_groupmembership",
)
PLACE_PERMS = (
    *REGISTRY_ALL,
    "registry.view_place",
    "registry.add_place",
    "registry.change_place",
    "registry.view_organisation",
    "registry.add_organisation",
    "registry.change_organisation",
)
SENSITIVE = ("registry.view_sensitive_specialgroup",)
USCC = "91110000600037341L"  # a valid code (check character L)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.1], [113.0, 22.0]]],
}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def tree() -> Tree:
    return make_tree()


@pytest.fixture
def officer(tree: Tree) -> Any:
    return make_user("officer", GROUP_PERMS + SENSITIVE + PLACE_PERMS, unit=make_unit(tree.street))


@pytest.fixture
def clerk(tree: Tree) -> Any:
    """No permission for sensitive groups."""
    return make_user("clerk", GROUP_PERMS + PLACE_PERMS, unit=make_unit(tree.street))


def group(code: str) -> SpecialGroup:
    return SpecialGroup.objects.get(code=code)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


TODAY = timezone.localdate()


# --- memberships ------------------------------------------------------------------------


def test_add_membership_and_current_list(tree: Tree, officer: Any) -> None:
    person = make_resident(tree.grid)
    m = services.add_membership(actor=officer, resident=person, group=group("left_behind_elderly"), since=TODAY)
    assert m.is_current()
    assert list(selectors.current_memberships(officer)) == [m]
    assert AuditEvent.objects.filter(action="registry.membership.create").count() == 1
    services.update_membership(actor=officer, membership=m, since=m.since, until=TODAY, note="moved in with son")
    assert list(selectors.current_memberships(officer, TODAY + datetime.timedelta(days=1))) == []
    assert AuditEvent.objects.filter(action="registry.membership.update").count() == 1


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (None, None, "since"),
        (TODAY + datetime.timedelta(days=3), None, "since"),
        (TODAY, TODAY - datetime.timedelta(days=1), "until"),
    ],
)
def test_bad_membership_dates_write_nothing(tree: Tree, officer: Any, since: Any, until: Any, field: str) -> None:
    person = make_resident(tree.grid)
    with pytest.raises(ValidationError) as exc:
        services.add_membership(actor=officer, resident=person, group=group("disabled"), since=since, until=until)
    assert field in exc.value.message_dict
    assert GroupMembership.objects.count() == 0


def test_overlapping_membership_refused(tree: Tree, officer: Any) -> None:
    person = make_resident(tree.grid)
    services.add_membership(actor=officer, resident=person, group=group("disabled"), since=TODAY)
    with pytest.raises(ValidationError) as exc:
        services.add_membership(actor=officer, resident=person, group=group("disabled"), since=TODAY)
    assert "group" in exc.value.message_dict
    assert GroupMembership.objects.count() == 1


def test_sensitive_group_needs_permission(tree: Tree, officer: Any, clerk: Any) -> None:
    person = make_resident(tree.grid)
    with pytest.raises(ValidationError):
        services.add_membership(actor=clerk, resident=person, group=group("community_correction"), since=TODAY)
    sensitive = services.add_membership(
        actor=officer, resident=person, group=group("community_correction"), since=TODAY
    )
    services.add_membership(actor=officer, resident=person, group=group("disabled"), since=TODAY)
    assert {m.group.code for m in selectors.resident_memberships(clerk, person)} == {"disabled"}
    assert "community_correction" not in set(selectors.visible_groups(clerk).values_list("code", flat=True))
    assert not selectors.resident_list(clerk, {"group": "community_correction"}).exists()
    assert list(selectors.resident_list(officer, {"group": "community_correction"})) == [person]
    with pytest.raises(PermissionDenied):
        services.update_membership(actor=clerk, membership=sensitive, since=TODAY, until=None)
    # the resident page of the clerk does not show the tag at all
    page = client_for(clerk).get(reverse("registry:resident_detail", args=[person.pk]))
    assert "社区矫正对象".encode() not in page.content and "残疾人".encode() in page.content
    page = client_for(officer).get(reverse("registry:resident_detail", args=[person.pk]))
    assert "社区矫正对象".encode() in page.content
    # nor can it be removed through the page
    url = reverse("registry:membership_edit", args=[person.pk, sensitive.pk])
    assert client_for(clerk).post(url, {"action": "delete"}).status_code == 404
    assert GroupMembership.objects.filter(pk=sensitive.pk).exists()


def test_membership_outside_scope(tree: Tree, officer: Any) -> None:
    far = make_resident(tree.other_grid)
    with pytest.raises(PermissionDenied):
        services.add_membership(actor=officer, resident=far, group=group("disabled"), since=TODAY)
    boss = make_user("boss", GROUP_PERMS, scope=DataScope.ALL)
    services.add_membership(actor=boss, resident=far, group=group("disabled"), since=TODAY)
    assert not selectors.current_memberships(officer).exists()


def test_membership_pages(tree: Tree, officer: Any) -> None:
    person = make_resident(tree.grid)
    client = client_for(officer)
    url = reverse("registry:membership_add", args=[person.pk])
    bad = client.post(url, {"new-group": group("disabled").pk, "new-since": "", "new-note": "x"})
    assert bad.status_code == 400 and b"This field is required" in bad.content
    assert GroupMembership.objects.count() == 0
    ok = client.post(url, {"new-group": group("disabled").pk, "new-since": TODAY.isoformat(), "new-note": "轮椅"})
    assert ok.status_code == 302
    m = GroupMembership.objects.get()
    edit = reverse("registry:membership_edit", args=[person.pk, m.pk])
    wrong = client.post(edit, {f"m{m.pk}-since": TODAY.isoformat(), f"m{m.pk}-until": "2000-01-01"})
    assert wrong.status_code == 400 and b"cannot be before" in wrong.content
    m.refresh_from_db()
    assert m.until is None
    assert client.post(edit, {"action": "delete"}).status_code == 302
    assert GroupMembership.objects.count() == 0


def test_viewer_cannot_change_memberships(tree: Tree) -> None:
    viewer = make_user(
        "viewer", ("registry.view_resident", "registry.view_groupmembership"), unit=make_unit(tree.street)
    )
    person = make_resident(tree.grid)
    url = reverse("registry:membership_add", args=[person.pk])
    response = client_for(viewer).post(url, {"new-group": group("disabled").pk, "new-since": TODAY.isoformat()})
    assert response.status_code == 404
    assert GroupMembership.objects.count() == 0


# --- places ---------------------------------------------------------------------------


def place_args(tree: Tree, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "kind": PlaceKind.SHOP,
        "name": "好又多便利店",
        "address": "花园路3号",
        "grid": tree.grid,
        "contact_name": "陈老板",
        "contact_phone": "13800138000",
    }
    args.update(kw)
    return args


def test_place_personal_fields_encrypted(tree: Tree, officer: Any) -> None:
    place = place_services.save_place(actor=officer, **place_args(tree))
    place.refresh_from_db()
    assert place.contact_name_masked and "陈老板" not in str(place.contact_name)
    assert place.contact_phone.plaintext() == "13800138000"
    assert list(selectors.place_list(officer, {"q": "13800138000"})) == [place]
    event = AuditEvent.objects.get(action="registry.place.create")
    assert "13800138000" not in str(event.after) and "陈老板" not in str(event.after)


def test_rental_housing_links_landlord_and_tenants(tree: Tree, officer: Any) -> None:
    landlord = make_resident(tree.grid, "房东", id_number=make_id(seq=101))
    tenant = make_resident(tree.grid, "租客", id_number=make_id(seq=102))
    place = place_services.save_place(
        actor=officer,
        **place_args(tree, kind=PlaceKind.RENTAL, name="花园路3号出租屋"),
        landlord_id_number=make_id(seq=101),
        tenant_id_numbers=[make_id(seq=102)],
    )
    assert place.landlord == landlord and list(place.tenants.all()) == [tenant]
    with pytest.raises(ValidationError) as exc:
        place_services.save_place(
            actor=officer, place=place, **place_args(tree, kind=PlaceKind.RENTAL), tenant_id_numbers=[make_id(seq=999)]
        )
    assert "tenants" in exc.value.message_dict
    assert list(place.tenants.all()) == [tenant]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"kind": "spaceport"}, "kind"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"grid": None}, "grid"),
        ({"lng": 113.05, "lat": None}, "lng"),
    ],
)
def test_bad_place_writes_nothing(tree: Tree, officer: Any, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        place_services.save_place(actor=officer, **place_args(tree, **changes))
    assert field in exc.value.message_dict
    assert Place.objects.count() == 0


def test_location_checked_against_grid(tree: Tree, officer: Any) -> None:
    tree.grid.boundary = SQUARE
    tree.grid.save()
    from fengqiao.regions import locate

    if hasattr(locate, "_index"):
        locate._index = None  # rebuilt with the new boundary
    inside = place_services.save_place(actor=officer, **place_args(tree, lng=113.05, lat=22.05))
    assert inside.lng == 113.05
    with pytest.raises(ValidationError) as exc:
        place_services.save_place(actor=officer, **place_args(tree, lng=113.5, lat=22.5))
    assert "not inside the grid" in exc.value.message_dict["lng"][0]
    assert Place.objects.count() == 1


def test_place_scope_and_pages(tree: Tree, officer: Any) -> None:
    boss = make_user("boss", PLACE_PERMS, scope=DataScope.ALL)
    far = place_services.save_place(actor=boss, **place_args(tree, grid=tree.other_grid, name="远处的店"))
    with pytest.raises(PermissionDenied):
        place_services.save_place(actor=officer, **place_args(tree, grid=tree.other_grid))
    client = client_for(officer)
    assert client.get(reverse("registry:place_detail", args=[far.pk])).status_code == 404
    response = client.post(
        reverse("registry:place_create"),
        {"kind": "shop", "name": "", "grid": tree.grid.pk, "address": "花园路5号", "contact_phone": "999"},
    )
    assert response.status_code == 200 and Place.objects.count() == 1
    assert b"This field is required" in response.content
    response = client.post(
        reverse("registry:place_create"),
        {"kind": "school", "name": "花园小学", "grid": tree.grid.pk, "address": "花园路5号"},
    )
    assert response.status_code == 302
    listing = client.get(reverse("registry:place_list"), {"kind": "school"})
    assert "花园小学".encode() in listing.content and "远处的店".encode() not in listing.content
    export = client.get(reverse("registry:place_export"))
    content = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    rows = list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "花园小学"


# --- organisations --------------------------------------------------------------------


def org_args(tree: Tree, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "kind": "enterprise",
        "name": "枫桥物业有限公司",
        "address": "花园路8号",
        "grid": tree.grid,
        "credit_code": USCC,
        "legal_representative": "周法人",
        "contact_phone": "13900139000",
    }
    args.update(kw)
    return args


def test_organisation_credit_code_validated_and_unique(tree: Tree, officer: Any) -> None:
    org = place_services.save_organisation(actor=officer, **org_args(tree, credit_code=USCC.lower()))
    assert org.credit_code == USCC
    assert org.legal_representative_masked and "周法人" not in str(org.legal_representative)
    with pytest.raises(ValidationError) as exc:
        place_services.save_organisation(actor=officer, **org_args(tree, name="另一家"))
    assert "credit_code" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        place_services.save_organisation(actor=officer, **org_args(tree, credit_code=USCC[:-1] + "X"))
    assert "not a valid unified social credit code" in exc.value.message_dict["credit_code"][0]
    assert Organisation.objects.count() == 1
    assert list(selectors.organisation_list(officer, {"q": USCC})) == [org]


def test_organisation_pages(tree: Tree, officer: Any) -> None:
    client = client_for(officer)
    response = client.post(
        reverse("registry:organisation_create"),
        {
            "kind": "social",
            "name": "枫桥志愿者协会",
            "grid": tree.grid.pk,
            "address": "花园路9号",
            "credit_code": "123",
        },
    )
    assert response.status_code == 200 and b"not a valid unified social credit code" in response.content
    assert Organisation.objects.count() == 0
    response = client.post(
        reverse("registry:organisation_create"),
        {"kind": "social", "name": "枫桥志愿者协会", "grid": tree.grid.pk, "address": "花园路9号"},
    )
    assert response.status_code == 302
    org = Organisation.objects.get()
    page = client.get(reverse("registry:organisation_detail", args=[org.pk]))
    assert "枫桥志愿者协会".encode() in page.content
    edit = client.post(
        reverse("registry:organisation_edit", args=[org.pk]),
        {"kind": "social", "name": "枫桥志愿者协会", "grid": tree.grid.pk, "address": "花园路10号", "employees": "12"},
    )
    assert edit.status_code == 302
    org.refresh_from_db()
    assert org.address == "花园路10号" and org.employees == 12
    export = client.get(reverse("registry:organisation_export"))
    assert export.status_code == 200


# --- demo -----------------------------------------------------------------------------


def test_demo_registry_is_deterministic_and_idempotent(tree: Tree) -> None:
    from fengqiao.registry.demo import load_demo_registry

    for n in range(60):
        make_resident(tree.grid, f"居民{n}", birth_date=datetime.date(1940 + n, 1, 1))
    first = load_demo_registry("440399", seed=1)
    assert first["places"] == 3 and first["organisations"] > 0 and first["memberships"] > 0
    names = sorted(Place.objects.values_list("name", flat=True))
    codes = list(Organisation.objects.exclude(credit_code="").values_list("credit_code", flat=True))
    assert all(place_services.clean_credit_code(c) == c for c in codes)
    assert load_demo_registry("440399", seed=1) == {"places": 0, "organisations": 0, "memberships": 0}
    assert sorted(Place.objects.values_list("name", flat=True)) == names
    assert all(p.contact_name_masked for p in Place.objects.all())


# --- place and organisation import ------------------------------------------------------


def _sheet(headers: list[str], rows: list[list[Any]]) -> io.BytesIO:
    from fengqiao.core.excel import write_workbook

    out = io.BytesIO()
    write_workbook(out, headers, rows)
    out.seek(0)
    out.name = "x.xlsx"
    return out


PLACE_HEADERS = ["类别", "名称", "地址", "网格编码", "联系人", "联系电话", "房东身份证号", "租户身份证号"]


def test_place_import_all_or_nothing(tree: Tree, officer: Any) -> None:
    from fengqiao.registry.place_imports import import_places

    make_resident(tree.grid, "房东", id_number=make_id(seq=101))
    make_resident(tree.grid, "租客", id_number=make_id(seq=102))
    good = [
        ["商铺", "花园便利店", "花园路1号", tree.grid.code, "陈老板", "13800138000", "", ""],
        ["出租屋", "花园路2号出租屋", "花园路2号", tree.grid.code, "", "", make_id(seq=101), make_id(seq=102)],
    ]
    bad = [
        *good,
        ["飞船站", "X", "Y", tree.grid.code, "", "", "", ""],  # row 4: unknown kind
        ["商铺", "远处", "Z", tree.other_grid.code, "", "", "", ""],  # row 5: outside
        ["商铺", "坏电话", "Z", tree.grid.code, "", "12345", "", ""],  # row 6: phone
    ]
    result = import_places(_sheet(PLACE_HEADERS, bad), actor=officer)
    assert not result.ok and result.created == 0
    assert [(e.row, e.column) for e in result.errors] == [(4, "A"), (5, "D"), (6, "F")]
    assert Place.objects.count() == 0
    assert not AuditEvent.objects.filter(action="registry.place.import").exists()
    result = import_places(_sheet(PLACE_HEADERS, good), actor=officer)
    assert result.ok and result.created == 2
    rental = Place.objects.get(kind="rental")
    assert rental.landlord is not None and rental.tenants.count() == 1


def test_organisation_import_page(tree: Tree, officer: Any) -> None:
    headers = ["类别", "名称", "统一社会信用代码", "地址", "网格编码", "法定代表人", "从业人数"]
    client = client_for(officer)
    url = reverse("registry:organisation_import")
    bad = _sheet(headers, [["企业", "甲公司", "123", "花园路1号", tree.grid.code, "周某", "x"]])
    page = client.post(url, {"file": bad})
    text = page.content.decode()
    assert page.status_code == 200 and "row 2, column C" in text and "row 2, column G" in text, text[-1500:]
    assert Organisation.objects.count() == 0
    good = _sheet(headers, [["enterprise", "甲公司", USCC, "花园路1号", tree.grid.code, "周某", 12]])
    assert client.post(url, {"file": good}).status_code == 302
    org = Organisation.objects.get()
    assert org.employees == 12 and org.legal_representative_masked


def test_resident_export_lists_visible_current_groups(tree: Tree, officer: Any, clerk: Any) -> None:
    person = make_resident(tree.grid)
    services.add_membership(actor=officer, resident=person, group=group("community_correction"), since=TODAY)
    services.add_membership(actor=officer, resident=person, group=group("disabled"), since=TODAY)
    for user, expected in ((officer, {"社区矫正对象", "残疾人"}), (clerk, {"残疾人"})):
        export = client_for(user).get(reverse("registry:resident_export"))
        content = b"".join(export.streaming_content)  # type: ignore[attr-defined]
        rows = list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))
        assert set(str(rows[1][-1]).split("、")) == expected
