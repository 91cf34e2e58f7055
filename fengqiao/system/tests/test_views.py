from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.audit.tests.factories import make_user
from fengqiao.system import services
from fengqiao.system.models import Dictionary, DictionaryItem, Parameter
from fengqiao.system.selectors import dictionary_items, get_parameter

pytestmark = pytest.mark.django_db


def _sheet(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


PARAM_ALL = ["system.view_parameter", "system.add_parameter", "system.change_parameter", "system.delete_parameter"]
DICT_ALL = ["system.view_dictionary", "system.add_dictionary", "system.change_dictionary", "system.delete_dictionary"]
HX = {"HTTP_HX_REQUEST": "true"}


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    return _client(make_user([*PARAM_ALL, *DICT_ALL], username="cfgadmin"))


@pytest.fixture
def defaults() -> None:
    services.ensure_default_parameters()


def test_permissions_are_enforced(defaults) -> None:
    p = Parameter.objects.get(key="intake.max_photo_mb")
    viewer = _client(make_user(["system.view_parameter"]))
    assert viewer.get(reverse("system:parameters")).status_code == 200
    assert viewer.get(reverse("system:parameter_create")).status_code == 403
    assert viewer.post(reverse("system:parameter_edit", args=[p.pk]), {"name": "x", "value": "5"}).status_code == 403
    assert viewer.post(reverse("system:parameter_delete", args=[p.pk])).status_code == 403
    assert viewer.get(reverse("system:dictionaries")).status_code == 403
    html = viewer.get(reverse("system:parameters")).content.decode()
    assert "New parameter" not in html and ">Edit<" not in html
    assert get_parameter("intake.max_photo_mb") == 10
    nobody = _client(make_user(["audit.view_auditevent"]))
    assert nobody.get(reverse("system:index")).status_code == 403
    assert nobody.get(reverse("system:parameter_export")).status_code == 403
    assert nobody.get(reverse("system:dictionary_export")).status_code == 403
    assert viewer.get(reverse("system:dictionary_export")).status_code == 403
    assert viewer.get(reverse("system:index")).status_code == 302


def test_parameter_list_filter_and_paging(admin_client, defaults) -> None:
    html = admin_client.get(reverse("system:parameters")).content.decode()
    assert "intake.max_photo_mb" in html and "case.reminder_fractions" in html
    html = admin_client.get(reverse("system:parameters"), {"q": "photo"}, **HX).content.decode()
    assert "<html" not in html and "intake.max_photo_mb" in html and "case.reminder" not in html
    html = admin_client.get(reverse("system:parameters"), {"value_type": "json"}).content.decode()
    assert "case.reminder_fractions" in html and "intake.max_photo_mb" not in html
    for i in range(30):
        services.create_parameter(actor=None, key=f"bulk.p{i:02d}", name=f"P{i}", value_type="string", value="x")
    page2 = admin_client.get(reverse("system:parameters"), {"page": 2}, **HX).content.decode()
    assert "Page 2 of 2" in page2


def test_inline_edit_with_htmx(admin_client, defaults) -> None:
    p = Parameter.objects.get(key="intake.max_photo_mb")
    url = reverse("system:parameter_edit", args=[p.pk])
    form_row = admin_client.get(url, **HX).content.decode()
    assert 'class="editing"' in form_row and 'value="10"' in form_row
    bad = admin_client.post(url, {"name": p.name, "value": "ten"}, **HX).content.decode()
    assert "is not a whole number" in bad and 'class="editing"' in bad
    assert get_parameter("intake.max_photo_mb") == 10
    too_big = admin_client.post(url, {"name": p.name, "value": "500"}, **HX).content.decode()
    assert "from 1 to 100" in too_big
    ok = admin_client.post(url, {"name": p.name, "value": "20", "description": "d"}, **HX).content.decode()
    assert 'class="editing"' not in ok and ">20<" in ok
    assert get_parameter("intake.max_photo_mb") == 20
    cancel = admin_client.get(reverse("system:parameter_row", args=[p.pk]), **HX).content.decode()
    assert "20" in cancel
    assert AuditEvent.objects.filter(action="system.parameter.update", object_id=str(p.pk)).count() == 1


def test_edit_without_javascript(admin_client, defaults) -> None:
    p = Parameter.objects.get(key="case.reminder_fractions")
    url = reverse("system:parameter_edit", args=[p.pk])
    assert "[0.5, 0.8]" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"name": p.name, "value": "[0.9, 0.2]"})
    assert response.status_code == 200 and "increasing order" in response.content.decode()
    response = admin_client.post(url, {"name": p.name, "value": "[0.25, 0.75]"})
    assert response.status_code == 302
    assert get_parameter("case.reminder_fractions") == [0.25, 0.75]


def test_boolean_edit_uses_a_select(admin_client) -> None:
    p = services.create_parameter(actor=None, key="intake.anonymous", name="Anon", value_type="boolean", value=True)
    row = admin_client.get(reverse("system:parameter_edit", args=[p.pk]), **HX).content.decode()
    assert '<select name="value"' in row
    admin_client.post(reverse("system:parameter_edit", args=[p.pk]), {"name": "Anon", "value": "false"}, **HX)
    assert get_parameter("intake.anonymous") is False


def test_create_and_delete_parameter(admin_client) -> None:
    url = reverse("system:parameter_create")
    response = admin_client.post(url, {"key": "Bad Key", "name": "", "value_type": "integer", "value": "x"})
    html = response.content.decode()
    assert response.status_code == 200 and "This field is required" in html
    response = admin_client.post(url, {"key": "Bad Key", "name": "N", "value_type": "integer", "value": "x"})
    html = response.content.decode()
    assert "lower-case letters" in html and "not a whole number" in html
    assert not Parameter.objects.exists()
    response = admin_client.post(url, {"key": "case.sla_days", "name": "SLA", "value_type": "decimal", "value": "2.5"})
    assert response.status_code == 302
    p = Parameter.objects.get(key="case.sla_days")
    response = admin_client.post(reverse("system:parameter_delete", args=[p.pk]), **HX)
    assert response.status_code == 200 and response.content == b""
    assert not Parameter.objects.exists()
    assert admin_client.post(reverse("system:parameter_delete", args=[p.pk])).status_code == 404


def test_parameter_export(admin_client, defaults) -> None:
    response = admin_client.get(reverse("system:parameter_export"), {"q": "photo_mb"})
    rows = _sheet(response)
    assert rows[1][0] == "intake.max_photo_mb" and rows[1][3] == "10" and len(rows) == 2


def test_dictionary_pages(admin_client) -> None:
    response = admin_client.post(reverse("system:dictionary_create"), {"code": "Case Type", "name": "Case type"})
    assert "lower-case letters" in response.content.decode()
    response = admin_client.post(reverse("system:dictionary_create"), {"code": "case_type", "name": "Case type"})
    d = Dictionary.objects.get(code="case_type")
    assert response.status_code == 302 and response["Location"] == reverse("system:dictionary_detail", args=[d.pk])
    add = reverse("system:item_create", args=[d.pk])
    html = admin_client.post(
        add, {"value": "dispute", "label": "矛盾纠纷", "sort_order": "10", "is_active": "on"}, **HX
    )
    assert "矛盾纠纷" in html.content.decode()
    html = admin_client.post(add, {"value": "dispute", "label": "again", "sort_order": "20"}, **HX).content.decode()
    assert "already has an item" in html and 'value="again"' in html  # the typed input is kept
    html = admin_client.post(add, {"value": "x y", "label": "", "sort_order": "first"}, **HX).content.decode()
    assert "This field is required" in html
    assert d.items.count() == 1
    item = d.items.get()
    edit = reverse("system:item_edit", args=[item.pk])
    assert 'class="editing"' in admin_client.get(edit, **HX).content.decode()
    bad = admin_client.post(edit, {"label": "矛盾纠纷", "sort_order": "soon"}, **HX).content.decode()
    assert "whole number for the order" in bad
    ok = admin_client.post(
        edit, {"label": "矛盾纠纷调解", "label_en": "Dispute", "sort_order": "5"}, **HX
    ).content.decode()
    assert "矛盾纠纷调解" in ok
    item.refresh_from_db()
    assert item.is_active is False  # unticked box
    assert dictionary_items("case_type") == []
    detail = admin_client.get(reverse("system:dictionary_detail", args=[d.pk])).content.decode()
    assert "矛盾纠纷调解" in detail
    listing = admin_client.get(reverse("system:dictionaries"), {"q": "纠纷"}).content.decode()
    assert "case_type" in listing
    response = admin_client.post(reverse("system:dictionary_edit", args=[d.pk]), {"name": "", "description": ""})
    assert "This field is required" in response.content.decode()
    admin_client.post(reverse("system:dictionary_edit", args=[d.pk]), {"name": "Case types", "description": ""})
    d.refresh_from_db()
    assert d.name == "Case types" and d.code == "case_type"
    assert admin_client.post(reverse("system:item_delete", args=[item.pk]), **HX).content == b""
    assert not DictionaryItem.objects.exists()
    response = admin_client.post(reverse("system:dictionary_delete", args=[d.pk]))
    assert response.status_code == 302 and not Dictionary.objects.exists()


def test_dictionary_export(admin_client) -> None:
    services.ensure_dictionary("case_type", "Case type", [("dispute", "矛盾纠纷", "Dispute"), ("safety", "安全隐患")])
    other = services.ensure_dictionary("tier", "Tier", [("red", "红")])
    response = admin_client.get(reverse("system:dictionary_export"))
    rows = _sheet(response)
    assert [r[2] for r in rows[1:]] == ["dispute", "safety", "red"]
    response = admin_client.get(reverse("system:dictionary_export"), {"id": other.pk})
    rows = _sheet(response)
    assert [r[2] for r in rows[1:]] == ["red"]


def test_item_changes_need_change_permission() -> None:
    d = services.ensure_dictionary("tier", "Tier", [("red", "红")])
    viewer = _client(make_user(["system.view_dictionary"]))
    item = d.items.get()
    assert viewer.post(reverse("system:item_create", args=[d.pk]), {"value": "x", "label": "x"}).status_code == 403
    assert viewer.post(reverse("system:item_edit", args=[item.pk]), {"label": "x"}).status_code == 403
    assert viewer.post(reverse("system:item_delete", args=[item.pk])).status_code == 403
    assert viewer.post(reverse("system:dictionary_delete", args=[d.pk])).status_code == 403
    html = viewer.get(reverse("system:dictionary_detail", args=[d.pk])).content.decode()
    assert "Add item" not in html and "Delete dictionary" not in html


def test_pages_render_in_chinese(defaults) -> None:
    client = Client()
    client.force_login(make_user(PARAM_ALL))
    html = client.get(reverse("system:parameters")).content.decode()
    assert "系统参数" in html
