from __future__ import annotations

import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent, Category
from fengqiao.audit.sealing import seal_all
from fengqiao.audit.services import record
from fengqiao.audit.tests.factories import make_unit, make_user
from fengqiao.core.scope import DataScope

pytestmark = pytest.mark.django_db


def _sheet(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


VIEW = "audit.view_auditevent"
EXPORT = "audit.export_auditevent"


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    AuditEvent.objects.filter(action="auth.login").exists()  # force_login sends no signal
    return client


@pytest.fixture
def auditor():
    return make_user([VIEW, EXPORT], username="auditor")


def _op(action: str = "registry.resident.update", **kwargs) -> AuditEvent:
    return record(action, **kwargs)


def test_pages_need_the_view_permission() -> None:
    nobody = make_user(["system.view_parameter"])
    client = _client(nobody)
    for name in ("audit:operations", "audit:logins", "audit:verify", "audit:operation_export"):
        assert client.get(reverse(name)).status_code == 403
    event = _op()
    assert client.get(reverse("audit:event_detail", args=[event.pk])).status_code == 403
    anonymous = Client()
    assert anonymous.get(reverse("audit:operations")).status_code == 302


def test_operation_log_lists_operations_not_logins(auditor) -> None:
    _op(actor_name="clerk-a", detail={"x": 1})
    record("auth.login_failed", actor_name="mallory", category=Category.LOGIN, result="failed")
    response = _client(auditor).get(reverse("audit:operations"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "clerk-a" in html and "registry.resident.update" in html
    assert "mallory" not in html
    logins = _client(auditor).get(reverse("audit:logins")).content.decode()
    assert "mallory" in logins and "clerk-a" not in logins
    assert "Failed login" in logins


def test_filters(auditor) -> None:
    _op("registry.resident.update", actor_name="alice")
    _op("registry.household.create", actor_name="bob")
    _op("system.parameter.update", actor_name="carol", result="denied")
    old = _op("registry.resident.view", actor_name="dave")
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - datetime.timedelta(days=40))
    client = _client(auditor)
    url = reverse("audit:operations")

    def names(**params) -> set[str]:
        html = client.get(url, params).content.decode()
        return {n for n in ("alice", "bob", "carol", "dave") if n in html}

    assert names() == {"alice", "bob", "carol", "dave"}
    assert names(operator="ali") == {"alice"}
    assert names(action="household") == {"bob"}
    assert names(result="denied") == {"carol"}
    today = timezone.localdate()
    assert names(date_from=(today - datetime.timedelta(days=1)).isoformat()) == {"alice", "bob", "carol"}
    assert names(date_to=(today - datetime.timedelta(days=30)).isoformat()) == {"dave"}


def test_object_type_and_ip_filters(auditor) -> None:
    unit = make_unit()
    from fengqiao.audit.context import audit_context

    with audit_context(ip="10.1.2.3"):
        record("units.unit.update", obj=unit, actor_name="eve")
    _op(actor_name="frank")
    client = _client(auditor)
    html = client.get(reverse("audit:operations"), {"object_type": "units.Unit"}).content.decode()
    assert "eve" in html and "frank" not in html
    html = client.get(reverse("audit:operations"), {"ip": "10.1."}).content.decode()
    assert "eve" in html and "frank" not in html


def test_bad_filters_show_a_message(auditor) -> None:
    _op(actor_name="alice")
    client = _client(auditor)
    response = client.get(reverse("audit:operations"), {"date_from": "2025-13-45", "operator": "alice"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date" in html and "alice" in html  # the other filters still apply
    response = client.get(reverse("audit:operations"), {"date_from": "2025-05-02", "date_to": "2025-05-01"})
    assert "end date is before the start date" in response.content.decode()
    response = client.get(reverse("audit:operations"), {"object_type": "nope.Model", "result": "weird"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_paging_with_htmx(auditor) -> None:
    for i in range(30):
        _op(actor_name=f"user-{i:02d}")
    client = _client(auditor)
    first = client.get(reverse("audit:operations")).content.decode()
    assert "user-29" in first and "user-04" not in first
    assert "30 events" in first
    second = client.get(reverse("audit:operations"), {"page": 2}, HTTP_HX_REQUEST="true")
    html = second.content.decode()
    assert "<html" not in html  # the partial only
    assert "user-04" in html and "user-29" not in html


def test_scope_restricts_what_is_seen() -> None:
    street = make_unit("440305001")
    other = make_unit("440305002")
    local = make_user([VIEW], scope=DataScope.UNIT_AND_BELOW, unit=street)
    mine = _op(region_path="440305001003", actor_name="in-scope")
    theirs = _op(region_path="440305002001", actor_name="out-of-scope")
    own = record("registry.resident.view", actor=local)
    client = _client(local)
    html = client.get(reverse("audit:operations")).content.decode()
    assert "in-scope" in html and "out-of-scope" not in html
    assert client.get(reverse("audit:event_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("audit:event_detail", args=[theirs.pk])).status_code == 404
    self_only = make_user([VIEW], scope=DataScope.SELF, unit=other)
    record("registry.resident.view", actor=self_only)
    html = _client(self_only).get(reverse("audit:operations")).content.decode()
    assert self_only.username in html and "in-scope" not in html
    assert own.actor_id == local.pk


def test_detail_shows_the_changes_as_a_table(auditor) -> None:
    unit = make_unit(name="Old name")
    event = record(
        "units.unit.update",
        obj=unit,
        before={"name": "Old name", "phone": ""},
        after={"name": "New name", "phone": ""},
        detail={"reason": "typo"},
    )
    html = _client(auditor).get(reverse("audit:event_detail", args=[event.pk])).content.decode()
    assert "Old name" in html and "New name" in html
    assert 'class="changed"' in html
    assert "typo" in html
    assert "Not sealed yet" in html
    seal_all()
    html = _client(auditor).get(reverse("audit:event_detail", args=[event.pk])).content.decode()
    assert "Sealed in block 1" in html
    assert _client(auditor).get(reverse("audit:event_detail", args=[999999])).status_code == 404


def test_export_needs_the_export_permission_and_is_audited(auditor) -> None:
    _op(actor_name="alice")
    _op(actor_name="bob")
    viewer = make_user([VIEW])
    assert _client(viewer).get(reverse("audit:operation_export")).status_code == 403
    response = _client(auditor).get(reverse("audit:operation_export"), {"operator": "alice"})
    assert response.status_code == 200
    rows = _sheet(response)
    assert len(rows) == 2 and rows[1][5] == "alice"
    export = AuditEvent.objects.get(action="audit.export")
    assert export.detail == {"log": "operation", "filters": {"operator": "alice"}, "rows": 1}
    assert export.actor_id == auditor.pk


def test_login_export(auditor) -> None:
    record("auth.login_failed", actor_name="mallory", category=Category.LOGIN, result="failed")
    response = _client(auditor).get(reverse("audit:login_export"), {"action": "auth.login_failed"})
    rows = _sheet(response)
    assert [r[5] for r in rows[1:]] == ["mallory"]


def test_export_of_too_many_rows_is_refused(auditor, monkeypatch: pytest.MonkeyPatch) -> None:
    from fengqiao.audit import views

    monkeypatch.setattr(views, "EXPORT_MAX_ROWS", 2)
    for _ in range(3):
        _op()
    response = _client(auditor).get(reverse("audit:operation_export"), follow=True)
    assert "narrow the time range" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_verify_page(auditor) -> None:
    for _ in range(3):
        _op()
    blocks = seal_all()
    client = _client(auditor)
    html = client.get(reverse("audit:verify")).content.decode()
    assert "No edited, inserted or deleted events found" in html
    assert blocks[-1].block_hash in html
    AuditEvent.objects.filter(pk=blocks[0].first_event_id).update(actor_name="forged")
    html = client.get(reverse("audit:verify")).content.decode()
    assert "tampered" in html and "was changed after it was sealed" in html


def test_pages_render_in_chinese(auditor) -> None:
    client = Client()
    client.force_login(auditor)
    html = client.get(reverse("audit:operations")).content.decode()
    assert "操作日志" in html


def test_export_is_restricted_by_scope() -> None:
    street = make_unit("440305001")
    local = make_user([VIEW, EXPORT], scope=DataScope.UNIT_AND_BELOW, unit=street)
    _op(region_path="440305001003", actor_name="in-scope")
    _op(region_path="440305002001", actor_name="out-of-scope")
    rows = _sheet(_client(local).get(reverse("audit:operation_export")))
    assert [r[5] for r in rows[1:]] == ["in-scope"]


def test_action_filter_finds_events_by_their_readable_name(auditor) -> None:
    _op("registry.resident.update", actor_name="changer")
    _op("unit.create", actor_name="creator")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(auditor)
    html = client.get(reverse("audit:operations"), {"action": "修改居民"}).content.decode()
    assert "changer" in html and "creator" not in html
    html = client.get(reverse("audit:operations"), {"action": "unit.cre"}).content.decode()  # a part of the code
    assert "creator" in html and "changer" not in html


def test_events_without_an_operator_name_the_system(auditor) -> None:
    from fengqiao.audit.context import audit_context

    with audit_context(source="command"):
        nameless = _op("accounts.role.sync")
    with audit_context(source="command", actor_name="系统（演示数据）"):
        named = _op("unit.create")
        mine = _op("unit.update", actor=auditor)  # a real actor keeps their own name
    assert nameless.actor_name == "" and named.actor_name == "系统（演示数据）" and mine.actor_name == "auditor"
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(auditor)
    html = client.get(reverse("audit:operations")).content.decode()
    assert "系统（命令行）" in html and "系统（演示数据）" in html
    assert "同步内置角色" in html and "新建单位" in html
    detail = client.get(reverse("audit:event_detail", args=[nameless.pk])).content.decode()
    assert "系统（命令行）" in detail
