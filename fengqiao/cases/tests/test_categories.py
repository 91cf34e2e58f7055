"""The category taxonomy: validation of extra fields and templates, per-district rights, audit,
deadline recompute on a change of default complexity, and the pages."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import category_selectors, category_services, deadlines
from fengqiao.cases.category_services import clean_extra_fields, clean_response_templates
from fengqiao.cases.models import CaseEvent, CaseState, Category, Complexity
from fengqiao.workdays import deadlines as wd

from . import small_world
from .small_world import make_case

ALL_PERMS = ["cases.view_category", "cases.add_category", "cases.change_category", "cases.delete_category"]


@pytest.fixture
def world(db):
    w = small_world.build()
    w.nanshan = w.regions["440305"]
    w.futian = w.regions["440304"]
    w.local = Category.objects.create(code="noise", name="噪音扰民", district=w.nanshan)
    w.other = Category.objects.create(code="noise", name="福田噪音", district=w.futian)
    w.district_user = small_world.staff("district", ALL_PERMS, w.units["440305"])
    w.street_user = small_world.staff("street", ALL_PERMS, w.units["440305001"])
    w.admin = small_world.staff("admin", ALL_PERMS, None, scope="all")
    return w


def _data(**overrides):
    data = {
        "code": "parking",
        "name": "停车纠纷",
        "name_en": "Parking dispute",
        "kind": "report",
        "default_complexity": "simple",
        "default_level": "community",
        "default_unit_kind": "mediation_team",
        "sort_order": 5,
        "extra_fields": [],
        "response_templates": [],
    }
    data.update(overrides)
    return data


# --- validation --------------------------------------------------------------------------------


def test_extra_fields_are_stored_in_the_open311_shape():
    rows = clean_extra_fields(
        [
            {"code": "estate", "label": "小区名称", "label_en": "Estate", "datatype": "string", "required": True},
            {
                "code": "issue",
                "label": "纠纷类型",
                "datatype": "singlevaluelist",
                "values": [{"key": "noise", "name": "噪音"}, {"key": "leak", "name": "漏水"}, {"key": "", "name": ""}],
            },
        ]
    )
    assert rows == [
        {
            "code": "estate",
            "label": "小区名称",
            "label_en": "Estate",
            "datatype": "string",
            "required": True,
            "order": 1,
        },
        {
            "code": "issue",
            "label": "纠纷类型",
            "label_en": "",
            "datatype": "singlevaluelist",
            "required": False,
            "order": 2,
            "values": [{"key": "noise", "name": "噪音"}, {"key": "leak", "name": "漏水"}],
        },
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"code": "a", "label": "甲"}, {"code": "a", "label": "乙"}], "is already used by field 1"),
        ([{"code": "list", "label": "类型", "datatype": "multivaluelist", "values": []}], "a list needs its choices"),
        ([{"code": "Bad Code", "label": "甲"}], "may use only lower-case letters"),
        ([{"code": "", "label": "甲"}], "give it a code"),
        ([{"code": "a", "label": ""}], "give it a label"),
        ([{"code": "a", "label": "甲", "datatype": "picture"}], "choose one of the listed types"),
        (
            [{"code": "a", "label": "甲", "datatype": "singlevaluelist", "values": [{"key": "x"}, {"key": "x"}]}],
            "is listed twice",
        ),
    ],
)
def test_extra_field_errors(rows, expected):
    with pytest.raises(ValidationError) as info:
        clean_extra_fields(rows)
    messages = info.value.message_dict["extra_fields"]
    assert any(expected in m for m in messages), messages
    assert messages[0].startswith("Extra field")


def test_response_template_errors():
    assert clean_response_templates([{"title": "已受理", "text": "您好，已受理。"}]) == [
        {"title": "已受理", "text": "您好，已受理。"}
    ]
    with pytest.raises(ValidationError) as info:
        clean_response_templates([{"title": "", "text": "x"}, {"title": "a", "text": ""}])
    assert len(info.value.message_dict["response_templates"]) == 2


# --- rights per district -------------------------------------------------------------------------


def test_who_sees_and_edits_what(world):
    glob = Category.objects.filter(district__isnull=True).count()
    assert glob == 4
    for user in (world.district_user, world.street_user):
        visible = set(category_selectors.visible_categories(user).values_list("pk", flat=True))
        assert world.local.pk in visible and world.other.pk not in visible
        assert len(visible) == glob + 1
    assert list(category_selectors.manageable_districts(world.district_user)) == [world.nanshan]
    assert list(category_selectors.manageable_districts(world.street_user)) == []
    assert list(category_selectors.editable_categories(world.district_user)) == [world.local]
    assert not category_selectors.editable_categories(world.street_user).exists()
    assert category_selectors.editable_categories(world.admin).count() == glob + 2


def test_create_in_own_district_with_audit(world):
    category = category_services.create_category(actor=world.district_user, district=world.nanshan, **_data())
    assert (category.code, category.district, category.default_complexity) == ("parking", world.nanshan, "simple")
    event = AuditEvent.objects.get(action="cases.category.create")
    assert event.actor == world.district_user and event.region_path == "440305"


def test_create_refused_outside_the_district_or_platform_wide(world):
    with pytest.raises(PermissionDenied):
        category_services.create_category(actor=world.district_user, district=world.futian, **_data())
    with pytest.raises(PermissionDenied):
        category_services.create_category(actor=world.district_user, district=None, **_data())
    with pytest.raises(PermissionDenied):
        category_services.create_category(actor=world.street_user, district=world.nanshan, **_data())
    assert category_services.create_category(actor=world.admin, district=None, **_data()).district is None


def test_create_bad_input_stores_nothing(world):
    with pytest.raises(ValidationError) as info:
        category_services.create_category(
            actor=world.district_user,
            district=world.nanshan,
            **_data(
                code="noise",
                name="",
                kind="x",
                sort_order="abc",
                extra_fields=[{"code": "a", "label": "甲"}, {"code": "a", "label": "乙"}],
            ),
        )
    errors = info.value.message_dict
    assert "already used by another category" in errors["code"][0]
    assert set(errors) == {"code", "name", "kind", "sort_order", "extra_fields"}
    assert Category.objects.count() == 6
    assert not AuditEvent.objects.filter(action="cases.category.create").exists()
    # the same code in another district is fine
    category_services.create_category(actor=world.admin, district=world.futian, **_data(code="parking"))
    category_services.create_category(actor=world.admin, district=world.nanshan, **_data(code="parking"))


def _open_case(world, category, **fields):
    case = make_case(category, world.regions["440305001001"], received_at=small_world.at(2025, 3, 3, 10), **fields)
    deadlines.recompute(case)
    case.save()
    return case


def test_changing_default_complexity_recomputes_open_cases(world):
    wd.invalidate()
    category = world.local
    category.default_complexity = Complexity.SIMPLE
    category.save()
    open_case = _open_case(world, category, complexity=Complexity.SIMPLE)
    triaged = _open_case(world, category, complexity=Complexity.SIMPLE)
    CaseEvent.objects.create(case=triaged, at=triaged.received_at, action="set_complexity", data={})
    closed = _open_case(world, category, complexity=Complexity.SIMPLE, state=CaseState.CLOSED)
    before = {c.pk: (c.resolution_due, c.version) for c in (open_case, triaged, closed)}
    assert open_case.resolution_due == wd.add_working_days(open_case.received_at, 3)

    category_services.update_category(
        category,
        actor=world.district_user,
        **{k: v for k, v in _data(default_complexity="general").items() if k != "code"},
    )
    open_case.refresh_from_db()
    assert open_case.complexity == Complexity.GENERAL
    assert open_case.resolution_due == wd.add_working_days(open_case.received_at, 7)
    assert open_case.version == before[open_case.pk][1] + 1
    assert open_case.events.filter(action="category_complexity").count() == 1
    for case in (triaged, closed):
        case.refresh_from_db()
        assert case.complexity == Complexity.SIMPLE
        assert case.resolution_due == before[case.pk][0]
    event = AuditEvent.objects.get(action="cases.category.update")
    assert event.detail == {"open_cases_recomputed": 1}


def test_update_cannot_touch_another_district(world):
    with pytest.raises(PermissionDenied):
        category_services.update_category(world.other, actor=world.district_user, name="x", kind="report")


def test_delete_only_when_unused(world):
    make_case(world.local, world.regions["440305001001"])
    with pytest.raises(ValidationError) as info:
        category_services.delete_category(world.local, actor=world.district_user)
    assert "cannot be deleted" in info.value.messages[0]
    spare = category_services.create_category(actor=world.district_user, district=world.nanshan, **_data())
    category_services.delete_category(spare, actor=world.district_user)
    assert not Category.objects.filter(pk=spare.pk).exists()
    assert AuditEvent.objects.filter(action="cases.category.delete").exists()


# --- pages ----------------------------------------------------------------------------------------


def _formsets(fields=(), templates=(), extra_field_rows=1, extra_template_rows=1):
    data = {}
    rows = list(fields) + [{}] * extra_field_rows
    data.update(
        {
            "fields-TOTAL_FORMS": str(len(rows)),
            "fields-INITIAL_FORMS": "0",
            "fields-MIN_NUM_FORMS": "0",
            "fields-MAX_NUM_FORMS": "30",
        }
    )
    for i, row in enumerate(rows):
        data[f"fields-{i}-datatype"] = row.get("datatype", "string")
        for key in ("code", "label", "label_en", "values"):
            if key in row:
                data[f"fields-{i}-{key}"] = row[key]
        if row.get("required"):
            data[f"fields-{i}-required"] = "on"
        if row.get("DELETE"):
            data[f"fields-{i}-DELETE"] = "on"
    trows = list(templates) + [{}] * extra_template_rows
    data.update(
        {
            "templates-TOTAL_FORMS": str(len(trows)),
            "templates-INITIAL_FORMS": "0",
            "templates-MIN_NUM_FORMS": "0",
            "templates-MAX_NUM_FORMS": "30",
        }
    )
    for i, row in enumerate(trows):
        for key in ("title", "text"):
            if key in row:
                data[f"templates-{i}-{key}"] = row[key]
    return data


def _post_data(world, **overrides):
    data = {
        "code": "parking",
        "district": str(world.nanshan.pk),
        "name": "停车纠纷",
        "name_en": "Parking dispute",
        "kind": "report",
        "default_complexity": "simple",
        "default_level": "community",
        "default_unit_kind": "",
        "sort_order": "5",
        "is_public": "on",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_list_page(world, client):
    client.force_login(world.street_user)
    response = client.get(reverse("case_categories:list"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "噪音扰民" in html and "福田噪音" not in html
    assert "New category" not in html  # a street centre cannot add to the district's taxonomy
    assert reverse("case_categories:edit", args=[world.local.pk]) not in html
    client.force_login(world.district_user)
    html = client.get(
        reverse("case_categories:list"), {"district": str(world.nanshan.pk)}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "New category" in html and reverse("case_categories:edit", args=[world.local.pk]) in html
    assert "安全隐患" not in html  # filtered to the district


def test_list_needs_permission(world, client):
    user = small_world.staff("plain", ["cases.view_case"], world.units["440305"])
    client.force_login(user)
    assert client.get(reverse("case_categories:list")).status_code == 403
    assert client.get(reverse("case_categories:create")).status_code == 403


def test_create_page_with_extra_fields(world, client):
    client.force_login(world.district_user)
    assert client.get(reverse("case_categories:create")).status_code == 200
    data = _post_data(world) | _formsets(
        fields=[
            {"code": "plate", "label": "车牌号", "label_en": "Plate", "required": True},
            {"code": "where", "label": "位置", "datatype": "singlevaluelist", "values": "lot=小区停车场\nroad=路边"},
            {"code": "gone", "label": "删除我", "DELETE": True},
        ],
        templates=[{"title": "已联系物业", "text": "已联系物业协调车位。"}],
    )
    response = client.post(reverse("case_categories:create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    category = Category.objects.get(code="parking", district=world.nanshan)
    assert [f["code"] for f in category.extra_fields] == ["plate", "where"]
    assert category.extra_fields[1]["values"] == [{"key": "lot", "name": "小区停车场"}, {"key": "road", "name": "路边"}]
    assert category.extra_fields[0]["required"] is True
    assert category.response_templates == [{"title": "已联系物业", "text": "已联系物业协调车位。"}]


def test_create_page_errors_keep_input(world, client):
    client.force_login(world.district_user)
    data = _post_data(world, code="noise") | _formsets(
        fields=[
            {"code": "a", "label": "甲"},
            {"code": "a", "label": "乙"},
            {"code": "kind", "label": "类型", "datatype": "singlevaluelist"},
        ],
    )
    response = client.post(reverse("case_categories:create"), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    html = response.content.decode()
    assert "already used by another category" in html
    assert "is already used by field 1" in html
    assert "a list needs its choices" in html
    assert 'value="乙"' in html  # what was typed is kept
    assert not Category.objects.filter(code="noise", district=world.nanshan).exclude(pk=world.local.pk).exists()


def test_edit_page(world, client):
    client.force_login(world.district_user)
    url = reverse("case_categories:edit", args=[world.local.pk])
    assert client.get(url).status_code == 200
    data = _post_data(world, code="changed", name="噪音扰民（改）", district=str(world.futian.pk)) | _formsets(
        fields=[{"code": "time", "label": "发生时间", "datatype": "datetime"}]
    )
    assert client.post(url, data).status_code == 302
    world.local.refresh_from_db()
    assert world.local.name == "噪音扰民（改）"
    assert world.local.code == "noise" and world.local.district == world.nanshan  # fixed once created
    assert world.local.extra_fields[0]["datatype"] == "datetime"
    # another district's category: not found, like a missing one
    assert client.get(reverse("case_categories:edit", args=[world.other.pk])).status_code == 404
    assert client.post(reverse("case_categories:delete", args=[world.other.pk])).status_code == 404


def test_delete_page(world, client):
    client.force_login(world.district_user)
    make_case(world.local, world.regions["440305001001"])
    response = client.post(
        reverse("case_categories:delete", args=[world.local.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "cannot be deleted" in response.content.decode()
    assert Category.objects.filter(pk=world.local.pk).exists()


def test_export(world, client):
    client.force_login(world.district_user)
    response = client.get(reverse("case_categories:export"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = wb.active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    codes = {r[0] for r in rows}
    assert "noise" in codes and "hazard" in codes
    assert len(rows) == 5  # the four platform-wide ones and Nanshan's, not Futian's
