"""Resident import: every check, all or nothing, duplicates, scope, the preview/confirm pages."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.core.excel import write_workbook
from fengqiao.core.personal import index_for
from fengqiao.core.scope import DataScope
from fengqiao.registry import imports, services, uploads
from fengqiao.registry.models import GroupMembership, Household, Resident, SpecialGroup

from .factories import REGISTRY_ALL, Tree, make_household, make_id, make_tree, make_unit, make_user

pytestmark = pytest.mark.django_db

HEADERS = ["姓名", "身份证号", "性别", "出生日期", "联系电话", "网格编码", "户号", "住址", "与户主关系", "特殊人群"]
IMPORT_PERMS = (*REGISTRY_ALL, "registry.view_groupmembership", "registry.add_groupmembership")
SENSITIVE = ("registry.view_sensitive_specialgroup",)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def tree() -> Tree:
    return make_tree()


@pytest.fixture
def clerk(tree: Tree) -> Any:
    """Street-level user: grid and grid2 are in scope, other_grid is not."""
    return make_user("clerk", IMPORT_PERMS + SENSITIVE, unit=make_unit(tree.street))


@pytest.fixture
def plain_clerk(tree: Tree) -> Any:
    """Same area, without the permission for sensitive groups."""
    return make_user("plain", IMPORT_PERMS, unit=make_unit(tree.street))


def xlsx(rows: list[list[Any]], headers: list[str] | None = None) -> io.BytesIO:
    out = io.BytesIO()
    write_workbook(out, headers or HEADERS, rows)
    out.seek(0)
    out.name = "residents.xlsx"
    return out


def row(tree: Tree, **values: Any) -> list[Any]:
    base = {
        "name": "王小明",
        "id": make_id("110105", "19900307", 123),
        "gender": "男",
        "birth": None,
        "phone": "13800138000",
        "grid": tree.grid.code,
        "household": "",
        "address": "",
        "relation": "",
        "groups": "",
    }
    base.update(values)
    return list(base.values())


def nothing_written() -> None:
    assert Resident.objects.count() == 0
    assert Household.objects.count() == 0
    assert GroupMembership.objects.count() == 0
    assert not AuditEvent.objects.filter(action="registry.resident.import").exists()


def problems(result: imports.ResidentImport) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


def test_good_file_imports_everything_encrypted(tree: Tree, clerk: Any) -> None:
    rows = [
        row(tree, household="H1", address="花园路1号", relation="户主", groups="留守老人"),
        row(tree, name="李梅", id=make_id("110105", "19920101", 124), gender="女", phone="", household="H1"),
        row(
            tree,
            name="赵六",
            id="",
            gender="",
            birth=datetime.date(1950, 5, 1),
            phone="010-12345678",
            grid=tree.grid2.code,
        ),
    ]
    result = imports.import_residents(xlsx(rows), actor=clerk)
    assert result.ok, problems(result)
    assert result.created == 3
    assert set(result.timings) == {"read", "validate", "dedupe", "write"}
    first = Resident.objects.get(id_number_index=index_for("id_number", make_id("110105", "19900307", 123)))
    assert first.name_masked and "王小明" not in first.name.token
    assert first.id_number.plaintext() == make_id("110105", "19900307", 123)
    assert first.gender == "M" and first.birth_date == datetime.date(1990, 3, 7)
    assert first.household is not None and first.household.address == "花园路1号"
    assert first.region_path == tree.grid.path
    assert [m.group.code for m in first.memberships.all()] == ["left_behind_elderly"]
    second = Resident.objects.get(id_number_index=index_for("id_number", make_id("110105", "19920101", 124)))
    assert second.household_id == first.household_id and second.gender == "F"
    third = Resident.objects.get(region_path=tree.grid2.path)
    assert third.phone.plaintext() == "01012345678" and third.birth_date == datetime.date(1950, 5, 1)
    event = AuditEvent.objects.get(action="registry.resident.import")
    assert event.detail is not None
    assert event.detail["rows"] == 3 and event.detail["households_created"] == 1


def test_existing_household_is_joined(tree: Tree, clerk: Any) -> None:
    household = make_household(tree.grid, number="H77")
    result = imports.import_residents(xlsx([row(tree, household="H77")]), actor=clerk)
    assert result.ok, problems(result)
    assert Resident.objects.get().household == household
    assert Household.objects.count() == 1


def test_every_bad_row_is_listed_and_nothing_written(tree: Tree, clerk: Any) -> None:
    good_id = make_id("110105", "19900307", 123)
    bad_checksum = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    rows = [
        row(tree),  # row 2: fine on its own
        row(tree, id=bad_checksum),  # row 3
        row(tree, id=make_id("110105", "19900307", 125), gender="女"),  # row 4: gender vs ID
        row(tree, id=make_id("110105", "19900307", 127), birth=datetime.date(1991, 1, 1)),  # row 5
        row(tree, id=make_id("110105", "19900307", 129), phone="12345"),  # row 6: bad phone
        row(tree, id=make_id("110105", "19900307", 131), grid="440399009009009"),  # row 7: unknown grid
        row(tree, id=make_id("110105", "19900307", 133), grid=tree.other_grid.code),  # row 8: outside
        row(tree),  # row 9: same ID as row 2
        row(tree, id=make_id("110105", "19900307", 135), gender="x"),  # row 10
        row(tree, id=make_id("110105", "19900307", 137), groups="外星人"),  # row 11
        row(tree, id=make_id("110105", "19900307", 139), household="NEW1"),  # row 12: new household, no address
        row(tree, name="", id=make_id("110105", "19900307", 141)),  # row 13: name missing
    ]
    result = imports.import_residents(xlsx(rows), actor=clerk)
    assert not result.ok and result.created == 0
    found = {(r, c) for r, c, _m in problems(result)}
    assert found >= {
        (3, "B"),
        (4, "C"),
        (5, "D"),
        (6, "E"),
        (7, "F"),
        (8, "F"),
        (9, "B"),
        (10, "C"),
        (11, "J"),
        (12, "H"),
        (13, "A"),
    }
    assert (2, "B") not in found
    messages = {(r, c): m for r, c, m in problems(result)}
    assert "check digit" in messages[(3, "B")]
    assert "row 2" in messages[(9, "B")]
    assert "outside your area" in messages[(8, "F")]
    assert "No grid" in messages[(7, "F")]
    nothing_written()


def test_duplicate_in_database_found_before_writing(tree: Tree, clerk: Any) -> None:
    existing, _w = services.create_resident(
        actor=clerk, grid=tree.grid, name="王小明", id_number=make_id("110105", "19900307", 123)
    )
    hidden = make_user("boss", REGISTRY_ALL, scope=DataScope.ALL)
    services.create_resident(actor=hidden, grid=tree.other_grid, name="赵大山", id_number=make_id(seq=125))
    rows = [
        row(tree, name="新人", id=make_id("110105", "19900307", 201)),
        row(tree),  # in the clerk's area
        row(tree, id=make_id(seq=125)),  # registered outside the clerk's area
    ]
    before = Resident.objects.count()
    result = imports.import_residents(xlsx(rows), actor=clerk)
    assert not result.ok
    messages = {(r, c): m for r, c, m in problems(result)}
    assert existing.name_masked in messages[(3, "B")] and tree.grid.name in messages[(3, "B")]
    assert "another area" in messages[(4, "B")] and tree.other_grid.name not in messages[(4, "B")]
    assert Resident.objects.count() == before


def test_wrong_and_unknown_columns(tree: Tree, clerk: Any) -> None:
    headers = ["姓名", "身份证", "联系电话", "网格编码"]  # 身份证 is not a column name
    result = imports.check_residents(xlsx([["王小明", make_id(), "13800138000", tree.grid.code]], headers), actor=clerk)
    assert [(e.row, e.column) for e in result.errors] == [(1, "B")]
    assert "Unknown column" in result.errors[0].message
    missing = imports.check_residents(xlsx([["王小明"]], ["姓名"]), actor=clerk)
    assert any("Missing column" in e.message for e in missing.errors)
    nothing_written()


def test_not_a_workbook_and_empty_sheet(tree: Tree, clerk: Any) -> None:
    junk = io.BytesIO(b"this is not an excel file")
    assert not imports.check_residents(junk, actor=clerk).ok
    empty = imports.check_residents(xlsx([]), actor=clerk)
    assert any("no rows" in e.message for e in empty.errors)
    nothing_written()


def test_sensitive_group_needs_permission(tree: Tree, plain_clerk: Any, clerk: Any) -> None:
    rows = [row(tree, groups="社区矫正对象")]
    refused = imports.import_residents(xlsx(rows), actor=plain_clerk)
    assert not refused.ok and "may not assign" in refused.errors[0].message
    nothing_written()
    allowed = imports.import_residents(xlsx(rows), actor=clerk)
    assert allowed.ok
    assert GroupMembership.objects.get().group.code == "community_correction"


def test_groups_by_code_and_several(tree: Tree, clerk: Any) -> None:
    result = imports.import_residents(xlsx([row(tree, groups="disabled、留守老人")]), actor=clerk)
    assert result.ok, problems(result)
    assert sorted(GroupMembership.objects.values_list("group__code", flat=True)) == ["disabled", "left_behind_elderly"]


def test_no_permission_sees_no_grid(tree: Tree) -> None:
    nobody = make_user("nobody", ("registry.view_resident",), unit=make_unit(tree.street))
    result = imports.check_residents(xlsx([row(tree)]), actor=nobody)
    assert not result.ok
    nothing_written()


# --- pages --------------------------------------------------------------------------


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_upload_preview_then_confirm(tree: Tree, clerk: Any) -> None:
    client = client_for(clerk)
    url = reverse("registry:resident_import")
    assert client.get(url).status_code == 200
    page = client.post(url, {"step": "check", "file": xlsx([row(tree, household="H1", address="花园路1号")])})
    assert page.status_code == 200
    assert b"nothing has been written yet" in page.content
    assert Resident.objects.count() == 0  # the preview writes nothing
    assert "王小明".encode() not in page.content  # masked in the preview
    token = page.context["token"]
    assert token
    done = client.post(url, {"step": "confirm", "token": token})
    assert done.status_code == 302
    assert Resident.objects.count() == 1 and Household.objects.count() == 1
    # the stored file is gone: a second confirmation imports nothing more
    again = client.post(url, {"step": "confirm", "token": token})
    assert again.status_code == 302
    assert Resident.objects.count() == 1


def test_confirm_with_foreign_token_does_nothing(tree: Tree, clerk: Any, plain_clerk: Any) -> None:
    page = client_for(clerk).post(reverse("registry:resident_import"), {"step": "check", "file": xlsx([row(tree)])})
    token = page.context["token"]
    other = client_for(plain_clerk)
    response = other.post(reverse("registry:resident_import"), {"step": "confirm", "token": token})
    assert response.status_code == 302
    nothing_written()


def test_bad_file_lists_problems_on_page(tree: Tree, clerk: Any) -> None:
    page = client_for(clerk).post(
        reverse("registry:resident_import"), {"step": "check", "file": xlsx([row(tree, phone="123")])}
    )
    assert page.status_code == 200
    assert b"Nothing was imported: 1 problem" in page.content
    assert b"row 2, column E" in page.content
    assert not page.context["token"]
    nothing_written()


def test_oversized_and_wrong_type_refused(tree: Tree, clerk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 100)
    client = client_for(clerk)
    page = client.post(reverse("registry:resident_import"), {"step": "check", "file": xlsx([row(tree)] * 5)})
    assert page.status_code == 200
    assert b"too large" in page.content
    text = io.BytesIO(b"a,b")
    text.name = "residents.csv"
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10_000_000)
    page = client.post(reverse("registry:resident_import"), {"step": "check", "file": text})
    assert b".xlsx" in page.content
    nothing_written()


def test_import_needs_permission(tree: Tree) -> None:
    viewer = make_user("viewer", ("registry.view_resident",), unit=make_unit(tree.street))
    client = client_for(viewer)
    assert client.get(reverse("registry:resident_import")).status_code == 403
    assert client.get(reverse("registry:resident_import_template")).status_code == 403


def test_template_lists_grids_in_scope_and_visible_groups(tree: Tree, plain_clerk: Any) -> None:
    response = client_for(plain_clerk).get(reverse("registry:resident_import_template"))
    wb = load_workbook(io.BytesIO(response.content))
    header = [c.value for c in wb.worksheets[0][1]]
    assert header == HEADERS
    grid_codes = {r[0] for r in wb.worksheets[1].iter_rows(min_row=2, values_only=True)}
    assert tree.grid.code in grid_codes and tree.other_grid.code not in grid_codes
    groups = {r[0] for r in wb.worksheets[2].iter_rows(min_row=2, values_only=True)}
    assert "left_behind_elderly" in groups and "community_correction" not in groups


def test_stored_upload_is_encrypted_and_expires(tree: Tree) -> None:
    session: dict[str, Any] = {}
    token = uploads.store(session, io.BytesIO(b"PK secret bytes"), "x.xlsx", "residents")
    path = uploads._folder() / f"{token}.bin"
    assert b"secret" not in path.read_bytes()
    assert uploads.load(session, token, "other") is None
    loaded = uploads.load(session, token, "residents")
    assert loaded is not None and loaded.read() == b"PK secret bytes"
    session[uploads.SESSION_KEY]["at"] -= uploads.MAX_AGE + 1
    assert uploads.load(session, token, "residents") is None
    uploads.discard(session)
    assert not path.exists()


def test_default_groups_installed() -> None:
    codes = set(SpecialGroup.objects.values_list("code", flat=True))
    assert {"community_correction", "severe_mental_illness", "left_behind_elderly", "left_behind_children"} <= codes
    assert SpecialGroup.objects.get(code="severe_mental_illness").sensitive
    assert not SpecialGroup.objects.get(code="left_behind_children").sensitive
