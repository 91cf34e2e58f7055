"""The JSON API (/api/v1/): authentication, data scope, list and detail, every kind of action, errors."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from fengqiao.accounts.models import ApiToken
from fengqiao.accounts.tests.factories import make_user
from fengqiao.accounts.token_services import create_token, revoke_token
from fengqiao.audit.models import AuditEvent
from fengqiao.cases import services
from fengqiao.cases.models import Case, CaseEvent, CaseState

from .api_support import ApiClient, grid_of, submit

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases"


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["message"]
    if code:
        assert body["code"] == code
    return body


def worker_of(case):
    """A grid worker of the case's grid who is not also a triage officer (grid leaders are)."""
    return next(u for u in services.grid_workers(case) if not u.has_perm("cases.triage_case"))


@pytest.fixture
def case(users, category):
    return submit(category, grid_of(users["street_centre_1"]))


# --- authentication ------------------------------------------------------------------------------


def test_no_credentials_is_401(case):
    assert_error(ApiClient().get(BASE), 401, "unauthenticated")
    assert_error(ApiClient().post(f"{BASE}/{case.pk}/actions/handle_here", {"version": 1}), 401)


def test_bad_revoked_and_expired_tokens_are_401(users, case):
    user = users["street_centre_1"]
    assert_error(ApiClient(token="fq_not-a-real-token").get(BASE), 401)
    row, raw = create_token(actor=user, name="x", days=5)
    assert ApiClient(token=raw).get(BASE).status_code == 200
    revoke_token(actor=user, token_id=row.pk)
    assert_error(ApiClient(token=raw).get(BASE), 401)
    row2, raw2 = create_token(actor=user, name="y", days=5)
    ApiToken.objects.filter(pk=row2.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert_error(ApiClient(token=raw2).get(f"{BASE}/{case.pk}"), 401)


def test_errors_in_the_callers_language(users, case):
    body = assert_error(ApiClient(language="zh-hans").get(BASE), 401)
    assert "登录" in body["message"] or "令牌" in body["message"]
    body = assert_error(ApiClient(language="en").get(BASE), 401)
    assert "Sign in" in body["message"]


def test_session_needs_csrf_on_unsafe_methods(users, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["street_centre_1"])
    assert client.get(BASE).status_code == 200
    response = client.post(
        f"{BASE}/{case.pk}/actions/handle_here", {"version": case.version}, content_type="application/json"
    )
    assert_error(response, 403, "csrf_failed")
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED
    client.get("/accounts/me/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"{BASE}/{case.pk}/actions/handle_here",
        {"version": case.version},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "in_progress"


# --- scope and permission ------------------------------------------------------------------------


def test_out_of_scope_is_404_and_missing_permission_is_403(users, case):
    other = ApiClient(users["street_centre_2"])
    assert_error(other.get(f"{BASE}/{case.pk}"), 404, "not_found")
    assert_error(other.get(f"{BASE}/{case.pk}/actions"), 404)
    assert_error(other.post(f"{BASE}/{case.pk}/actions/handle_here", {"version": case.version}), 404)
    assert case.pk not in [c["id"] for c in other.get(BASE).json()["items"]]
    nobody = ApiClient(make_user("no_roles", None))
    assert_error(nobody.get(BASE), 403, "forbidden")
    assert_error(nobody.get(f"{BASE}/{case.pk}"), 403)
    assert_error(ApiClient(users["street_centre_1"]).get(f"{BASE}/999999"), 404)
    # the grid worker sees the case in their grid but may not triage it
    worker = worker_of(case)
    api = ApiClient(worker)
    assert api.get(f"{BASE}/{case.pk}").status_code == 200
    assert_error(api.post(f"{BASE}/{case.pk}/actions/handle_here", {"version": case.version}), 403)
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.version == 1


# --- list ----------------------------------------------------------------------------------------


def test_list_filters_and_pages(users, category):
    grid = grid_of(users["street_centre_1"])
    cases = [submit(category, grid, description=f"第{i}件") for i in range(7)]
    api = ApiClient(users["street_centre_1"])
    body = api.get(BASE, page_size=3).json()
    assert body["count"] == 7 and not body["count_capped"] and body["has_next"]
    assert [c["id"] for c in body["items"]] == [c.pk for c in reversed(cases)][:3]
    last = api.get(BASE, page_size=3, page=3).json()
    assert len(last["items"]) == 1 and not last["has_next"]
    assert api.get(BASE, page=99).json()["items"] == []
    assert api.get(BASE, state="in_progress").json()["count"] == 0
    assert api.get(BASE, state="open", category=category.pk).json()["count"] == 7
    assert api.get(BASE, region=grid.path).json()["count"] == 7
    assert api.get(BASE, region=grid.path[:-3] + "999").json()["count"] == 0
    assert api.get(BASE, q=cases[0].number).json()["count"] == 1
    today = timezone.localdate()
    assert api.get(BASE, received_from=today.isoformat(), received_to=today.isoformat()).json()["count"] == 7
    assert api.get(BASE, received_to=(today - datetime.timedelta(days=1)).isoformat()).json()["count"] == 0
    assert api.get(BASE, unit=users["street_centre_1"].unit_id).json()["count"] == 7
    assert api.get(BASE, mine="assigned").json()["count"] == 0
    assert api.get(BASE, overdue="true").json()["count"] == 0
    assert api.get(BASE, order="due").status_code == 200
    item = body["items"][0]
    assert item["resolution"]["due"] and item["resolution"]["status"] in ("running", "due_soon")
    assert item["unit"]["id"] == users["street_centre_1"].unit_id


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "bogus"}, "state"),
        ({"page": "0"}, "page"),
        ({"page_size": "500"}, "page_size"),
        ({"received_from": "2026-13-01"}, "received_from"),
        ({"region": "abc"}, "region"),
        ({"order": "sideways"}, "order"),
    ],
)
def test_list_bad_filters_are_422_by_field(users, case, params, field):
    body = assert_error(ApiClient(users["street_centre_1"]).get(BASE, **params), 422, "invalid")
    assert field in body["fields"]


# --- detail and actions ---------------------------------------------------------------------------


def test_detail_has_timelines_deadlines_and_actions(users, case):
    body = ApiClient(users["street_centre_1"]).get(f"{BASE}/{case.pk}").json()
    assert body["number"] == case.number and body["version"] == 1
    assert [e["action"] for e in body["timeline"]] == ["submit"]
    assert [e["action"] for e in body["public_timeline"]] == ["submit"]
    assert body["first_response"]["due"] and body["resolution"]["due"]
    actions = {a["action"]: a for a in body["actions"]}
    assert {"handle_here", "assign", "escalate", "reject", "merge"} <= set(actions)
    assert actions["reject"]["requires"] == ["reason", "guidance"]
    assert body["reporter_phone"] == "" or "*" in body["reporter_phone"]


def test_full_loop_through_the_api(users, case):
    street = ApiClient(users["street_centre_1"])
    worker_user = worker_of(case)
    worker = ApiClient(worker_user)
    url = f"{BASE}/{case.pk}/actions"
    r = street.post(f"{url}/assign", {"version": 1, "target_user": worker_user.pk})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "assigned" and r.json()["assignee"]["id"] == worker_user.pk
    assert [a["action"] for a in worker.get(url).json()] == ["accept", "return", "comment"]
    r = worker.post(f"{url}/accept", {"version": 2})
    assert r.json()["state"] == "in_progress"
    r = worker.post_multipart(
        f"{url}/feedback/with-files", {"version": "3", "note": "已清理完毕", "files": [_photo(), _photo("b.png")]}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["state"] == "review" and len(body["attachments"]) == 2
    download = worker.get(body["attachments"][0]["url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    assert_error(ApiClient(users["street_centre_2"]).get(body["attachments"][0]["url"]), 404)
    r = street.post(f"{url}/rework", {"version": 4, "reason": "还有一处"})
    assert r.json()["state"] == "in_progress"
    r = worker.post(f"{url}/feedback", {"version": 5, "note": "全部清理"})
    r = street.post(f"{url}/pass_review", {"version": 6})
    assert r.json()["state"] == "closed"
    assert list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)) == [
        "submit",
        "assign",
        "accept",
        "feedback",
        "rework",
        "feedback",
        "pass_review",
    ]
    assert AuditEvent.objects.filter(action="cases.pass_review", object_id=str(case.pk)).exists()


def _photo(name="a.jpg"):
    from .api_support import photo

    return photo(name, fmt="PNG" if name.endswith(".png") else "JPEG")


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("reject", {"reason": "不属于受理范围"}, "guidance"),
        ("reject", {"guidance": "请到法院"}, "reason"),
        ("escalate", {}, "reason"),
        ("assign", {}, "target_unit"),
        ("assign", {"target_unit": 999999}, "target_unit"),
        ("merge", {"into": "NOPE"}, "into"),
        ("set_complexity", {"complexity": "complex"}, "due"),
        ("set_complexity", {"complexity": "complex", "due": "2020-01-01"}, "due"),
        ("handle_here", {"version": "x"}, "version"),
        ("handle_here", {"version": None}, "version"),
        ("reject", {"reason": "x" * 2001, "guidance": "y"}, "reason"),
    ],
)
def test_bad_inputs_write_nothing(users, case, action, payload, field):
    api = ApiClient(users["street_centre_1"])
    before_events = CaseEvent.objects.count()
    before_audit = AuditEvent.objects.count()
    body = assert_error(
        api.post(f"{BASE}/{case.pk}/actions/{action}", {"version": 1, **payload}),
        422,
        "invalid",
    )
    assert field in body["fields"], body
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.version == 1
    assert CaseEvent.objects.count() == before_events and AuditEvent.objects.count() == before_audit


def test_impossible_and_unknown_actions(users, case):
    api = ApiClient(users["street_centre_1"])
    body = assert_error(api.post(f"{BASE}/{case.pk}/actions/pass_review", {"version": 1}), 422)
    assert "not possible" in body["message"]
    assert "action" in assert_error(api.post(f"{BASE}/{case.pk}/actions/fly_away", {"version": 1}), 422)["fields"]
    # the resident's action is not a staff action
    assert "action" in assert_error(api.post(f"{BASE}/{case.pk}/actions/rate", {"version": 1}), 422)["fields"]
    assert_error(
        api.client.post(
            f"{BASE}/{case.pk}/actions/handle_here", "{not json", content_type="application/json", headers=api.headers
        ),
        400,
        "bad_request",
    )


def test_stale_version_is_409_and_nothing_applied(users, case):
    api = ApiClient(users["street_centre_1"])
    assert (
        api.post(f"{BASE}/{case.pk}/actions/set_complexity", {"version": 1, "complexity": "simple"}).status_code == 200
    )
    events = CaseEvent.objects.count()
    body = assert_error(api.post(f"{BASE}/{case.pk}/actions/handle_here", {"version": 1}), 409, "conflict")
    assert "Reload" in body["message"]
    # stale and no longer offered: still 409 (not 422 or 404)
    r = api.post(f"{BASE}/{case.pk}/actions/reject", {"version": 2, "reason": "r", "guidance": "g"})
    assert r.status_code == 200
    assert_error(api.post(f"{BASE}/{case.pk}/actions/handle_here", {"version": 2}), 409)
    case.refresh_from_db()
    assert case.state == CaseState.REJECTED and case.version == 3
    assert CaseEvent.objects.count() == events + 1


def test_photos_bad_type_size_or_action_write_nothing(users, case, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    worker_user = worker_of(case)
    street = ApiClient(users["street_centre_1"])
    street.post(f"{BASE}/{case.pk}/actions/assign", {"version": 1, "target_user": worker_user.pk})
    worker = ApiClient(worker_user)
    worker.post(f"{BASE}/{case.pk}/actions/accept", {"version": 2})
    url = f"{BASE}/{case.pk}/actions/feedback/with-files"
    fake = SimpleUploadedFile("evil.jpg", b"MZ\x90\x00 not an image", content_type="image/jpeg")
    body = assert_error(worker.post_multipart(url, {"version": "3", "note": "done", "files": [fake]}), 422)
    assert "files" in body["fields"] and "evil.jpg" in body["fields"]["files"][0]
    monkeypatch.setattr(services, "_max_photo_bytes", lambda: 1024 * 1024)  # the limit, 1 MB here
    big = _photo_big()
    r = worker.post_multipart(url, {"version": "3", "note": "done", "files": [big]})
    body = assert_error(r, 422)
    assert "files" in body["fields"]
    # photos on an action that takes none
    r = worker.post_multipart(
        f"{BASE}/{case.pk}/actions/request_extension/with-files",
        {"version": "3", "days": "3", "reason": "r", "files": [_photo()]},
    )
    assert "files" in assert_error(r, 422)["fields"]
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS and case.version == 3 and case.attachments.count() == 0


def _photo_big():
    import io
    import os

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3)).save(buf, "PNG")
    assert buf.tell() > 1024 * 1024
    return SimpleUploadedFile("big.png", buf.getvalue(), content_type="image/png")


# --- staff case creation -------------------------------------------------------------------------


def test_create_case_idempotent_and_bad_input(users, category):
    user = users["street_centre_1"]
    grid = grid_of(user)
    api = ApiClient(user)
    payload = {
        "channel": "walk_in",
        "category": category.pk,
        "community": grid.parent_id,
        "description": "门口路灯坏了",
        "lng": grid.centroid_lng,
        "lat": grid.centroid_lat,
        "reporter_phone": "13800138000",
        "idempotency_key": "app-key-1",
    }
    r = api.post(BASE, payload)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["state"] == "submitted" and body["grid"]["id"] == grid.pk and body["reporter_phone"] == "138****8000"
    again = api.post(BASE, payload)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Case.objects.count() == 1
    bad = assert_error(api.post(BASE, {**payload, "idempotency_key": "k2", "description": ""}), 422)
    assert "description" in bad["fields"]
    bad = assert_error(api.post(BASE, {**payload, "idempotency_key": "k3", "reporter_phone": "123"}), 422)
    assert "reporter_phone" in bad["fields"]
    bad = assert_error(api.post(BASE, {**payload, "idempotency_key": "k4", "channel": "proxy"}), 422)
    assert "reporter_name" in bad["fields"]
    bad = assert_error(api.post(BASE, {**payload, "idempotency_key": "k5", "community": 999999}), 422)
    assert "community" in bad["fields"]
    other_street = users["street_centre_2"]
    bad = assert_error(
        api.post(BASE, {**payload, "idempotency_key": "k6", "community": grid_of(other_street).parent_id}), 422
    )
    assert "community" in bad["fields"]
    assert Case.objects.count() == 1
    assert_error(ApiClient(make_user("no_roles", None)).post(BASE, payload), 403)


# --- figures and documents ------------------------------------------------------------------------


def test_figures(users, case):
    api = ApiClient(users["street_centre_1"])
    body = api.get("/api/v1/figures", group=["unit", "category"]).json()
    assert body["total"]["received"] == 1 and set(body["groups"]) == {"unit", "category"}
    bad = assert_error(api.get("/api/v1/figures", start="2026-05-01", end="2026-01-01"), 422)
    assert "end" in bad["fields"]
    assert_error(ApiClient().get("/api/v1/figures"), 401)


def test_action_names_are_the_workflows_staff_actions():
    from typing import get_args

    from fengqiao.cases.api import STAFF_ACTIONS, ActionName

    assert sorted(get_args(ActionName)) == STAFF_ACTIONS


def test_openapi_document_and_local_docs(client):
    import json

    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200

    def no_duplicate_keys(pairs):  # Swagger UI refuses a document with a key twice
        keys = [k for k, _v in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    schema = json.loads(doc.content, object_pairs_hook=no_duplicate_keys)
    assert "/api/v1/cases/{case_id}/actions/{action}" in schema["paths"]
    assert {"SessionAuth", "TokenAuth"} == set(schema["components"]["securitySchemes"])
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    for cdn in ("cdn.", "jsdelivr", "unpkg", "cdnjs"):
        assert cdn not in html


def test_project_catalogue_of_the_api_is_complete():
    """fengqiao/api.py's messages live in the project catalogue (LOCALE_PATHS), not an app's."""
    from django.conf import settings

    from fengqiao.core.tests.test_i18n import _entries

    po = settings.BASE_DIR / "fengqiao" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    entries = _entries(po)
    assert entries and not [m for m, s, fuzzy in entries if not s or fuzzy]
    assert po.with_suffix(".mo").stat().st_mtime >= po.stat().st_mtime - 1
