"""Staff case pages: list, export, case page and its actions, reveal, files, intake.

NetBox style: without the permission, with it, and constrained by the data scope
(out of scope looks exactly like "not found": 404).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import services, views
from fengqiao.cases.models import Case, CaseState, Category, DutyAlert
from fengqiao.core import paging
from fengqiao.units.models import Unit

from . import test_views_support as support
from .test_views_support import client_for, file_case, nobody, photo, street_community, street_grid, worker_grid

pytestmark = pytest.mark.django_db

# the demo district once per module (see test_views_support)
_district_for_module = support._district_for_module
district = support.district


@pytest.fixture
def case(users: dict[str, Any], category: Category) -> Case:
    return file_case(
        category, street_grid(users["street_centre_1"]), reporter_name="王建国", reporter_phone="13912345678"
    )


def sheet(response: Any) -> list[tuple[Any, ...]]:
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    return list(ws.iter_rows(values_only=True))


def post_action(client: Any, case: Case, action: str, data: dict[str, Any], **extra: Any) -> Any:
    payload = {f"{action}-expected_version": case.version, **{f"{action}-{k}": v for k, v in data.items()}}
    return client.post(f"/cases/{case.number}/act/{action}/", payload, **extra)


# --- permission and scope ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/cases/", "/cases/export/", "/cases/new/", "/cases/import/", "/cases/duty/", "/cases/duty/feed/"]
)
def test_pages_need_the_permission(district: None, url: str) -> None:
    assert client_for(nobody()).get(url).status_code == 403


def test_anonymous_is_sent_to_login(district: None) -> None:
    from django.test import Client

    response = Client().get("/cases/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_case_page_out_of_scope_is_404(users: dict[str, Any], case: Case) -> None:
    assert client_for(users["street_centre_1"]).get(f"/cases/{case.number}/").status_code == 200
    assert client_for(users["street_centre_2"]).get(f"/cases/{case.number}/").status_code == 404
    assert client_for(users["street_centre_1"]).get("/cases/20990101999999/").status_code == 404
    assert client_for(nobody()).get(f"/cases/{case.number}/").status_code == 403


def test_action_out_of_scope_is_404_and_changes_nothing(users: dict[str, Any], case: Case) -> None:
    response = post_action(client_for(users["street_centre_2"]), case, "handle_here", {})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


def test_action_not_allowed_for_the_role_is_404(users: dict[str, Any], case: Case) -> None:
    # the street leader sees the case but cannot triage it
    leader = client_for(users["street_leader_1"])
    assert leader.get(f"/cases/{case.number}/").status_code == 200
    assert post_action(leader, case, "handle_here", {}).status_code == 404
    assert post_action(leader, case, "no_such_action", {}).status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


# --- list and export ------------------------------------------------------------------------------


def test_list_shows_the_cases_in_scope_only(users: dict[str, Any], case: Case, category: Category) -> None:
    other = file_case(category, street_grid(users["street_centre_2"]), description="别的街道的案件")
    body = client_for(users["street_centre_1"]).get("/cases/").content.decode()
    assert case.number in body and other.number not in body
    body = client_for(users["street_centre_2"]).get("/cases/").content.decode()
    assert other.number in body and case.number not in body


def test_list_filters(users: dict[str, Any], case: Case, category: Category) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    handled = services.apply_action(file_case(category, grid, description="另一件"), "handle_here", actor=street)
    client = client_for(street)
    body = client.get("/cases/", {"state": "in_progress"}).content.decode()
    assert handled.number in body and case.number not in body
    body = client.get("/cases/", {"state": "open"}).content.decode()
    assert handled.number in body and case.number in body
    body = client.get("/cases/", {"q": case.number}).content.decode()
    assert case.number in body and handled.number not in body
    body = client.get("/cases/", {"mine": "unit"}).content.decode()
    assert handled.number in body  # handled by the street centre itself
    body = client.get("/cases/", {"category": str(category.pk), "region": grid.path, "sort": "due"}).content.decode()
    assert case.number in body
    # an invalid filter value is ignored, never an error page
    assert client.get("/cases/", {"state": "nonsense", "category": "x"}).status_code == 200


def test_overdue_marker_and_filter(users: dict[str, Any], case: Case) -> None:
    Case.objects.filter(pk=case.pk).update(
        received_at=case.received_at - views.datetime.timedelta(days=30),
        resolution_due=case.received_at - views.datetime.timedelta(days=1),
    )
    client = client_for(users["street_centre_1"])
    body = client.get("/cases/", {"overdue": "on"}).content.decode()
    assert case.number in body and "row-overdue" in body and "overdue" in body


def test_filed_by_me(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    mine = file_case(category, street_grid(street), actor=street, channel="walk_in", description="来访登记")
    theirs = file_case(category, street_grid(street), description="扫码反映")
    body = client_for(street).get("/cases/", {"mine": "filed"}).content.decode()
    assert mine.number in body and theirs.number not in body


def test_list_has_no_n_plus_one(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    file_case(category, grid)
    client = client_for(street)
    client.get("/cases/")  # warm caches (parameters, permissions)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/cases/").status_code == 200
    for i in range(6):
        case = file_case(category, grid, description=f"第{i}件")
        services.apply_action(case, "handle_here", actor=street)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/cases/").status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_list_count_is_capped(users: dict[str, Any], category: Category, monkeypatch: Any) -> None:
    grid = street_grid(users["street_centre_1"])
    for i in range(3):
        file_case(category, grid, description=f"第{i}件")
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    body = client_for(users["street_centre_1"]).get("/cases/").content.decode()
    assert "More than" in body


def test_htmx_list_returns_the_results_only(users: dict[str, Any], case: Case) -> None:
    response = client_for(users["street_centre_1"]).get("/cases/", {"q": case.number}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert case.number in body and "<html" not in body


def test_export_is_scoped_masked_and_logged(users: dict[str, Any], case: Case, category: Category) -> None:
    file_case(category, street_grid(users["street_centre_2"]), description="别的街道")
    response = client_for(users["street_centre_1"]).get("/cases/export/")
    assert response.status_code == 200
    rows = sheet(response)
    assert len(rows) == 2  # header + the one case in scope
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Tracking number"] == case.number
    assert row["Reporter's phone"] == "139****5678"
    assert "13912345678" not in str(rows)
    assert AuditEvent.objects.filter(action="cases.export", detail__rows=1).exists()


def test_export_too_many_rows_is_refused(users: dict[str, Any], case: Case, monkeypatch: Any) -> None:
    monkeypatch.setattr(views, "EXPORT_MAX_ROWS", 0)
    response = client_for(users["street_centre_1"]).get("/cases/export/")
    assert response.status_code == 302 and response["Location"].startswith("/cases/")


# --- the case page ---------------------------------------------------------------------------------


def test_case_page_shows_everything(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    case = file_case(category, street_grid(street), files=[photo()], reporter_phone="13912345678")
    body = client_for(street).get(f"/cases/{case.number}/").content.decode()
    assert case.description in body
    assert "139****5678" in body and "13912345678" not in body
    assert "Submitted" in body  # the timeline
    assert f"/cases/{case.number}/files/" in body  # the photo
    assert 'id="case-map"' in body
    for action in ("handle_here", "assign", "escalate", "reject", "merge"):
        assert f'id="action-{action}"' in body
    assert 'name="assign-expected_version"' in body
    assert "Possible duplicates" in body


def test_handler_sees_only_their_actions(users: dict[str, Any], category: Category) -> None:
    street, worker = users["street_centre_1"], users["grid_worker_1"]
    case = file_case(category, worker_grid(worker))
    case = services.apply_action(case, "assign", actor=street, target_user=worker)
    body = client_for(worker).get(f"/cases/{case.number}/").content.decode()
    assert 'id="action-accept"' in body and 'id="action-assign"' not in body and 'id="action-reject"' not in body


def test_assign_through_the_page(users: dict[str, Any], case: Case) -> None:
    street = users["street_centre_1"]
    client = client_for(street)
    unit = Unit.objects.get(region=case.community, kind="centre")
    response = post_action(client, case, "assign", {"target_unit": unit.pk, "note": "请社区处理"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    case.refresh_from_db()
    assert case.state == CaseState.ASSIGNED and case.unit == unit
    assert case.events.filter(action="assign", note="请社区处理").exists()


def test_people_of_the_chosen_unit(users: dict[str, Any], category: Category) -> None:
    street, worker = users["street_centre_1"], users["grid_worker_1"]
    case = file_case(category, worker_grid(worker))
    client = client_for(street)
    body = client.get(
        f"/cases/{case.number}/act/assign/people/", {"assign-target_unit": worker.unit_id}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'value="{worker.pk}"' in body
    response = post_action(client, case, "assign", {"target_user": worker.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assignee == worker and case.state == CaseState.ASSIGNED


def test_htmx_action_redirects_and_errors_come_back_as_the_form(users: dict[str, Any], case: Case) -> None:
    client = client_for(users["street_centre_1"])
    response = post_action(client, case, "reject", {"reason": "不属于受理范围"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="action-reject"' in body and " open" in body
    assert "Tell the resident where they can turn instead." in body
    assert "不属于受理范围" in body  # what was typed is kept
    response = post_action(
        client, case, "reject", {"reason": "属于法院管辖", "guidance": "请向区人民法院咨询"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204 and response["HX-Redirect"] == f"/cases/{case.number}/"
    case.refresh_from_db()
    assert case.state == CaseState.REJECTED


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("assign", {}, "Choose the unit (or the person)"),
        ("escalate", {}, "Give the reason"),
        ("reject", {"guidance": "g"}, "Give the reason"),
        ("merge", {}, "Give the tracking number of the earlier case."),
        ("merge", {"into": "20990101000001"}, "No case with the number"),
        ("set_complexity", {}, "Choose the complexity."),
        ("set_complexity", {"complexity": "complex"}, "A complex case needs the deadline"),
        ("set_complexity", {"complexity": "complex", "due": "2001-01-01"}, "cannot be in the past"),
        ("comment", {}, "Write the note"),
        ("supervise", {}, "Write the note"),
    ],
)
def test_bad_input_at_triage(
    users: dict[str, Any], case: Case, action: str, data: dict[str, Any], message: str
) -> None:
    response = post_action(client_for(users["street_centre_1"]), case, action, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.version == 1
    assert case.events.count() == 1


def test_merge_into_itself_is_refused(users: dict[str, Any], case: Case) -> None:
    response = post_action(client_for(users["street_centre_1"]), case, "merge", {"into": case.number})
    assert "cannot be merged into itself" in response.content.decode()


def test_merge_into_an_earlier_case(users: dict[str, Any], case: Case, category: Category) -> None:
    street = users["street_centre_1"]
    later = file_case(category, street_grid(street), description="楼道杂物堆放")
    response = post_action(client_for(street), later, "merge", {"into": case.number})
    assert response.status_code == 302
    later.refresh_from_db()
    assert later.state == CaseState.MERGED and later.merged_into == case


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("feedback", {}, "Write what was done"),
        ("request_extension", {"reason": "r"}, "Give the number of extra days"),
        ("request_extension", {"days": "0", "reason": "r"}, "greater than or equal to 1"),
        ("request_extension", {"days": "90", "reason": "r"}, "between 1 and 60"),
        ("suspend", {}, "Give the reason"),
        ("report_findings", {}, "Write the note"),
    ],
)
def test_bad_input_while_handling(
    users: dict[str, Any], case: Case, action: str, data: dict[str, Any], message: str
) -> None:
    street = users["street_centre_1"]
    case = services.apply_action(case, "handle_here", actor=street)
    version = case.version
    response = post_action(client_for(street), case, action, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    case.refresh_from_db()
    assert case.version == version and case.state == CaseState.IN_PROGRESS


def test_feedback_with_a_bad_photo_keeps_the_text(users: dict[str, Any], case: Case) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    street = users["street_centre_1"]
    case = services.apply_action(case, "handle_here", actor=street)
    bad = SimpleUploadedFile("x.jpg", b"not a picture", content_type="image/jpeg")
    response = post_action(client_for(street), case, "feedback", {"note": "已清理完毕", "files": bad})
    body = response.content.decode()
    assert "is not a photo we can read" in body and "已清理完毕" in body
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS and case.attachments.count() == 0


def test_feedback_with_photos(users: dict[str, Any], category: Category) -> None:
    street, worker = users["street_centre_1"], users["grid_worker_1"]
    case = file_case(category, worker_grid(worker))
    case = services.apply_action(case, "assign", actor=street, target_user=worker)
    client = client_for(worker)
    assert post_action(client, case, "accept", {}).status_code == 302
    case.refresh_from_db()
    body = client.get(f"/cases/{case.number}/").content.decode()
    assert 'capture="environment"' in body and 'accept="image/*"' in body
    response = post_action(
        client, case, "feedback", {"note": "已清理", "files": [photo("a.jpg"), photo("b.png", fmt="PNG")]}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.REVIEW
    assert case.events.get(action="feedback").attachments.count() == 2


def test_set_complexity_with_a_deadline(users: dict[str, Any], case: Case) -> None:
    due = (views.timezone.localdate() + views.datetime.timedelta(days=40)).isoformat()
    response = post_action(
        client_for(users["street_centre_1"]), case, "set_complexity", {"complexity": "complex", "due": due}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.complexity == "complex" and case.resolution_due is not None
    assert views.timezone.localtime(case.resolution_due).date().isoformat() == due


def test_concurrent_update_is_reported_and_the_text_kept(users: dict[str, Any], case: Case) -> None:
    street = users["street_centre_1"]
    seen = case.version
    services.apply_action(case, "set_complexity", actor=street, complexity="simple")  # another tab, say
    payload = {"comment-expected_version": seen, "comment-note": "我正在写的备注"}
    response = client_for(street).post(f"/cases/{case.number}/act/comment/", payload, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "changed by someone else" in body and "我正在写的备注" in body
    case.refresh_from_db()
    assert not case.events.filter(action="comment").exists()


def test_stale_page_after_the_state_moved_on(users: dict[str, Any], case: Case) -> None:
    street = users["street_centre_1"]
    seen = case.version
    services.apply_action(case, "handle_here", actor=street)  # someone else triaged it meanwhile
    payload = {"reject-expected_version": seen, "reject-reason": "不属于受理范围", "reject-guidance": "去法院"}
    response = client_for(street).post(f"/cases/{case.number}/act/reject/", payload)
    body = response.content.decode()
    assert response.status_code == 200
    assert "changed by someone else" in body and "不属于受理范围" in body
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS


def test_reply_templates_are_offered(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    hazard = Category.objects.get(code="hazard")
    case = file_case(hazard, street_grid(street), extra={"hazard_type": "corridor"})
    case = services.apply_action(case, "handle_here", actor=street)
    body = client_for(street).get(f"/cases/{case.number}/").content.decode()
    assert 'class="tpl"' in body and hazard.response_templates[0]["text"] in body
    assert "楼道堆物" in body  # the extra field's value, by its name


# --- reveal and files -------------------------------------------------------------------------------


def test_reveal_needs_a_reason_and_is_logged(users: dict[str, Any], case: Case) -> None:
    client = client_for(users["street_centre_1"])
    url = f"/cases/{case.number}/reveal/reporter_phone/"
    response = client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
    assert "Give the reason" in response.content.decode()
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()
    response = client.post(url, {"reason": "回访群众"}, HTTP_HX_REQUEST="true")
    assert "13912345678" in response.content.decode()
    event = AuditEvent.objects.get(action="pii.reveal", result="ok")
    assert event.detail == {"field": "reporter_phone", "reason": "回访群众"}
    assert "13912345678" not in str(event.detail)


def test_reveal_without_permission_or_out_of_scope_is_404(users: dict[str, Any], case: Case) -> None:
    url = f"/cases/{case.number}/reveal/reporter_name/"
    assert client_for(users["street_leader_1"]).post(url, {"reason": "x"}).status_code == 404
    assert client_for(users["street_centre_2"]).post(url, {"reason": "x"}).status_code == 404
    assert client_for(users["street_centre_1"]).post(f"/cases/{case.number}/reveal/description/").status_code == 404
    assert AuditEvent.objects.filter(action="pii.reveal", result="denied").count() == 2


def test_attachments_are_served_only_in_scope(users: dict[str, Any], category: Category) -> None:
    case = file_case(category, street_grid(users["street_centre_1"]), files=[photo(size=(900, 600))])
    item = case.attachments.get()
    inside, outside = client_for(users["street_centre_1"]), client_for(users["street_centre_2"])
    full = inside.get(f"/cases/{case.number}/files/{item.pk}/")
    assert full.status_code == 200 and full["Content-Type"] == "image/jpeg"
    thumb = inside.get(f"/cases/{case.number}/files/{item.pk}/thumbnail/")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    assert outside.get(f"/cases/{case.number}/files/{item.pk}/").status_code == 404
    assert outside.get(f"/cases/{case.number}/files/{item.pk}/thumbnail/").status_code == 404


# --- staff intake and proxy filing ------------------------------------------------------------------


def intake_data(grid: Any, category: Category, **kw: Any) -> dict[str, Any]:
    data = {
        "idempotency_key": "k-" + grid.path,
        "channel": "walk_in",
        "category": category.pk,
        "community": grid.parent_id,
        "description": "居民来访反映楼道堆物问题",
        "address": "3号楼",
        "lng": "",
        "lat": "",
        "reporter_name": "李四",
        "reporter_phone": "13800138000",
    }
    data.update(kw)
    return data


def test_intake_form_offers_only_communities_in_scope(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    body = client_for(street).get("/cases/new/").content.decode()
    mine, theirs = street_community(street), street_community(users["street_centre_2"])
    assert f'value="{mine.pk}"' in body and f'value="{theirs.pk}"' not in body


def test_walk_in_is_filed_by_the_staff_member(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    client = client_for(street)
    response = client.post("/cases/new/", intake_data(grid, category))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    assert case.filed_by == street and case.channel == "walk_in"
    assert case.reporter_phone_masked == "138****8000"
    # a double submit (same form, same key) files nothing new
    again = client.post("/cases/new/", intake_data(grid, category))
    assert again.status_code == 302 and Case.objects.count() == 1
    assert case.number in client.get("/cases/", {"mine": "filed"}).content.decode()


def test_proxy_filing_for_a_resident(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    permit = Category.objects.get(code="residence-permit")
    client = client_for(street)
    response = client.post(
        "/cases/new/",
        intake_data(grid, permit, channel="proxy", reporter_name="", reporter_phone="", description="代办居住证"),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "enter their name" in body and "Proxy filing needs the resident" in body
    assert "代办居住证" in body  # kept
    response = client.post("/cases/new/", intake_data(grid, Category.objects.get(code="environment"), channel="proxy"))
    assert "choose a service category" in response.content.decode()
    assert Case.objects.count() == 0
    response = client.post("/cases/new/", intake_data(grid, permit, channel="proxy", description="代办居住证"))
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.channel == "proxy" and case.kind == "service" and case.filed_by == street


def test_intake_bad_input_keeps_everything(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    hazard = Category.objects.get(code="hazard")
    bad = SimpleUpload()
    response = client_for(street).post(
        "/cases/new/",
        intake_data(grid, hazard, reporter_phone="12345", lng="113.9", photos=bad, description="电动车在楼道充电"),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "电动车在楼道充电" in body
    assert 'name="extra_hazard_type"' in body  # the category's extra field is on the form
    assert "Give both longitude and latitude" in body
    assert Case.objects.count() == 0


def SimpleUpload() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")


def test_intake_service_errors_go_next_to_the_fields(users: dict[str, Any]) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    hazard = Category.objects.get(code="hazard")
    response = client_for(street).post("/cases/new/", intake_data(grid, hazard, photos=SimpleUpload()))
    body = response.content.decode()
    assert "is required" in body  # 隐患类型, checked by the service
    assert "is not a photo we can read" in body
    assert Case.objects.count() == 0


def test_intake_outside_scope_is_refused(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    theirs = street_grid(users["street_centre_2"])
    response = client_for(street).post("/cases/new/", intake_data(theirs, category))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    # a map point in another street is refused too, and nothing is kept
    mine = street_grid(street)
    data = intake_data(mine, category, lng=str(theirs.centroid_lng), lat=str(theirs.centroid_lat))
    response = client_for(street).post("/cases/new/", data)
    assert "outside your area" in response.content.decode()
    assert Case.objects.count() == 0 and not DutyAlert.objects.exists()


def test_intake_extra_fields_fragment(users: dict[str, Any]) -> None:
    hazard = Category.objects.get(code="hazard")
    body = client_for(users["street_centre_1"]).get("/cases/new/extra-fields/", {"category": hazard.pk}).content
    assert b'name="extra_hazard_type"' in body and "楼道堆物".encode() in body
    body = client_for(users["street_centre_1"]).get("/cases/new/extra-fields/", {"category": "x"}).content
    assert b"extra_" not in body


def test_intake_duplicate_suggestions(users: dict[str, Any], category: Category) -> None:
    street = users["street_centre_1"]
    grid = street_grid(street)
    earlier = file_case(category, grid, description="小区垃圾桶满了好几天没人清运")
    data = intake_data(grid, category, description="小区垃圾桶满了好几天没人清运，气味很大")
    data["lng"], data["lat"] = str(grid.centroid_lng), str(grid.centroid_lat)
    body = client_for(street).post("/cases/new/duplicates/", data, HTTP_HX_REQUEST="true").content.decode()
    assert earlier.number in body
    # another street's staff are not told about cases they cannot see
    other = client_for(users["street_centre_2"])
    assert earlier.number not in other.post("/cases/new/duplicates/", data, HTTP_HX_REQUEST="true").content.decode()


def test_grid_worker_pages_work_on_a_phone(users: dict[str, Any], category: Category) -> None:
    street, worker = users["street_centre_1"], users["grid_worker_1"]
    case = file_case(category, worker_grid(worker))
    services.apply_action(case, "assign", actor=street, target_user=worker)
    client = client_for(worker)
    body = client.get("/cases/", {"mine": "assigned"}).content.decode()
    assert case.number in body and 'name="viewport"' in body
    assert client.get(f"/cases/{case.number}/").status_code == 200


def test_grid_worker_files_a_case_in_their_grid(users: dict[str, Any], category: Category) -> None:
    worker = users["grid_worker_1"]
    grid = worker_grid(worker)
    client = client_for(worker)
    body = client.get("/cases/new/").content.decode()
    assert f'value="{grid.parent_id}"' in body  # the community of the worker's grid is offered
    data = intake_data(grid, category, channel="grid", lng=str(grid.centroid_lng), lat=str(grid.centroid_lat))
    response = client.post("/cases/new/", data)
    case = Case.objects.get()
    assert response["Location"] == f"/cases/{case.number}/" and case.grid == grid and case.filed_by == worker
    # without a map point the case stays at the community level, outside the worker's grids,
    # yet the worker who filed it can follow it (file and follow)
    response = client.post("/cases/new/", {**data, "idempotency_key": "k-2", "lng": "", "lat": ""})
    assert Case.objects.count() == 2
    second = Case.objects.exclude(pk=case.pk).get()
    assert second.grid is None and second.filed_by == worker
    assert response["Location"] == f"/cases/{second.number}/"
    assert client.get(response["Location"]).status_code == 200
