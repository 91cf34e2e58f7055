"""The private link: progress in plain words, the resident's actions, and nothing about staff or other cases."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from fengqiao.cases import services
from fengqiao.cases.models import Case, CaseEvent, CaseState

from .factories import COMMUNITY, category, find, form_key, photo, report_data, staff

pytestmark = pytest.mark.django_db

STAFF_PERMS = [
    "cases.view_case",
    "cases.change_case",
    "cases.triage_case",
    "cases.handle_case",
    "cases.review_case",
    "units.view_unit",
]


def submit(client: Client | None = None, **changes: Any) -> Case:
    client = client or Client()
    response = client.post(f"/r/{COMMUNITY}/", report_data(form_key(client), **changes))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Case.objects.get(public_token=response["Location"].split("/")[3])


def track_url(case: Case) -> str:
    return f"/r/t/{case.public_token}/"


@pytest.fixture
def officer(where):
    return staff("zx_officer_li", STAFF_PERMS, unit=where.centre, display_name="李干事", phone="13711112222")


@pytest.fixture
def worker(where):
    return staff("gw_secret_wang", ["cases.view_case", "cases.handle_case"], unit=where.centre, display_name="王网格员")


def close(case: Case, officer: Any) -> Case:
    case = services.apply_action(case, "handle_here", actor=officer)
    case = services.apply_action(case, "feedback", actor=officer, note="楼道杂物已清理完毕")
    return services.apply_action(case, "pass_review", actor=officer)


# --- what the page shows ----------------------------------------------------------------------------


def test_page_shows_number_category_state_timeline_and_due_date(where):
    case = submit()
    response = Client().get(track_url(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.number in html
    assert "Environment and sanitation" in html
    assert "Received — the street centre is reviewing it" in html
    assert "Report received" in html
    assert "Expected completion" in html
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]


@pytest.mark.parametrize(
    "path",
    [
        "/r/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
        "/r/t/short/",
        "/r/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/sent/",
        "/r/t/../../etc/passwd/",
    ],
)
def test_wrong_token_is_a_plain_404(where, path):
    submit()
    response = Client().get(path)
    assert response.status_code == 404
    assert b"Environment" not in response.content


def test_wrong_token_post_is_404_and_changes_nothing(where):
    case = submit()
    response = Client().post("/r/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", {"action": "add_info", "note": "hello"})
    assert response.status_code == 404
    assert case.events.count() == 1


def test_page_reveals_nothing_about_staff_or_other_cases(where, officer, worker):
    mine = submit(description="我家楼下的路灯坏了三天了", reporter_phone="13800138000")
    other = submit(description="隔壁邻居每天深夜装修噪音很大", reporter_phone="13955556666", reporter_name="赵其他")
    mine = services.apply_action(
        mine, "assign", actor=officer, target_user=worker, note="请王网格员 13900001111 今天上门处理"
    )
    mine = services.apply_action(mine, "accept", actor=worker)
    mine = services.apply_action(mine, "comment", actor=worker, note="内部备注：联系物业张经理", public=False)
    services.apply_action(other, "handle_here", actor=officer)
    # a staff member without a unit acting publicly must not show up by name either
    nobody = staff("admin_no_unit", STAFF_PERMS, scope="all", display_name="无单位管理员")
    mine = services.apply_action(mine, "comment", actor=nobody, note="已转交相关部门", public=True)

    html = Client().get(track_url(mine)).content.decode()
    assert mine.number in html
    for secret in [
        # staff
        "zx_officer_li", "李干事", "13711112222", "gw_secret_wang", "王网格员", "13900001111",
        "admin_no_unit", "无单位管理员", "内部备注", "张经理",
        # the other case
        other.number, other.public_token, "隔壁邻居", "赵其他", "13955556666", "139****6666",
    ]:  # fmt: skip
        assert secret not in html, secret
    assert "枫溪街道综治中心" in html  # units may be named
    assert "已转交相关部门" in html  # a note staff chose to make public
    assert "Passed to the responsible unit" in html


def test_merged_case_does_not_name_the_other_case(where, officer):
    first = submit(description="小区门口垃圾堆积发臭")
    second = submit(description="小区门口的垃圾没人清理")
    services.apply_action(second, "merge", actor=officer, into=first, note=f"与{first.number}重复")
    html = Client().get(track_url(second)).content.decode()
    assert "Handled together with an earlier report" in html
    assert first.number not in html and first.public_token not in html


def test_rejected_case_shows_reason_and_guidance(where, officer):
    case = submit()
    services.apply_action(case, "reject", actor=officer, reason="属于民事合同纠纷", guidance="请向区人民法院起诉")
    html = Client().get(track_url(case)).content.decode()
    assert "Not accepted" in html
    assert "属于民事合同纠纷" in html and "请向区人民法院起诉" in html
    assert "Add information" not in html


# --- the resident's actions ---------------------------------------------------------------------------


def test_add_information_with_a_photo(where):
    case = submit()
    client = Client()
    response = client.post(
        track_url(case),
        {"action": "add_info", "note": "晚上八点以后最严重", "version": case.version, "photos": [photo()]},
    )
    assert response.status_code == 302
    event = case.events.get(action="add_info")
    assert event.note == "晚上八点以后最严重" and event.attachments.count() == 1
    html = client.get(track_url(case)).content.decode()
    assert "Your information was added" in html
    assert "晚上八点以后最严重" in html and "1 photo attached" in html


def test_add_information_bad_input_keeps_the_text(where):
    case = submit()
    client = Client()
    response = client.post(track_url(case), {"action": "add_info", "note": "", "version": case.version})
    assert response.status_code == 200
    assert "Write the information you want to add" in response.content.decode()
    fake = b"GIF89a but not really"
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        track_url(case),
        {
            "action": "add_info",
            "note": "补充说明文字",
            "version": case.version,
            "photos": [SimpleUploadedFile("x.gif", fake)],
        },
    )
    html = response.content.decode()
    assert "is not a photo we can read" in html and "补充说明文字" in html and "choose your photos again" in html
    assert not case.events.filter(action="add_info").exists()


def test_stale_page_is_told_to_reload(where, officer):
    case = submit()
    old_version = case.version
    services.apply_action(case, "handle_here", actor=officer)
    client = Client()
    response = client.post(track_url(case), {"action": "add_info", "note": "还有一件事", "version": old_version})
    assert response.status_code == 302
    assert "changed a moment ago" in client.get(track_url(case)).content.decode()
    assert not case.events.filter(action="add_info").exists()


def test_rating_is_offered_only_when_closed_and_once(where, officer):
    case = submit()
    client = Client()
    assert "Rate the handling" not in client.get(track_url(case)).content.decode()
    response = client.post(track_url(case), {"action": "rate", "rating": "5", "version": case.version})
    assert response.status_code == 302  # not possible yet: told so, nothing stored
    assert "no longer possible" in client.get(track_url(case)).content.decode()
    case = close(case, officer)
    html = client.get(track_url(case)).content.decode()
    assert "Rate the handling" in html and "Completed" in html
    assert "楼道杂物已清理完毕" in html  # the handler's feedback is for the resident
    response = client.post(
        track_url(case), {"action": "rate", "rating": "4", "comment": "处理及时", "version": case.version}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.rating == 4 and case.rating_comment == "处理及时"
    html = client.get(track_url(case)).content.decode()
    assert "Rate the handling" not in html and "Not solved?" not in html


@pytest.mark.parametrize("rating", ["", "0", "6", "abc"])
def test_bad_rating_is_refused(where, officer, rating):
    case = close(submit(), officer)
    response = Client().post(
        track_url(case), {"action": "rate", "rating": rating, "comment": "意见", "version": case.version}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose a rating from 1 to 5" in html and "意见" in html
    case.refresh_from_db()
    assert case.rating is None


def test_dissatisfied_resident_can_reopen(where, officer):
    case = close(submit(), officer)
    client = Client()
    client.post(track_url(case), {"action": "rate", "rating": "1", "comment": "根本没处理", "version": case.version})
    case.refresh_from_db()
    html = client.get(track_url(case)).content.decode()
    assert "Not solved? Ask for it to be handled again" in html
    response = client.post(track_url(case), {"action": "reopen", "reason": "", "version": case.version})
    assert "Tell us what is still wrong" in response.content.decode()
    response = client.post(track_url(case), {"action": "reopen", "reason": "杂物又堆回来了", "version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.reopen_count == 1
    assert "Reopened at your request" in client.get(track_url(case)).content.decode()


def test_satisfied_resident_is_not_offered_reopening(where, officer):
    case = close(submit(), officer)
    Client().post(track_url(case), {"action": "rate", "rating": "3", "version": case.version})
    case.refresh_from_db()
    response = Client().post(track_url(case), {"action": "reopen", "reason": "再看看", "version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    assert not CaseEvent.objects.filter(case=case, action="reopen").exists()


# --- look-up by number and phone ----------------------------------------------------------------------


def test_lookup_by_number_and_phone(where):
    case = submit(reporter_phone="13800138000")
    client = Client()
    assert client.get("/r/track/").status_code == 200
    response = client.post("/r/track/", {"number": case.number, "phone": "138-0013-8000"})
    assert response.status_code == 302 and response["Location"] == track_url(case)


@pytest.mark.parametrize(
    "changes",
    [{"phone": "13900139000"}, {"number": "20990101000001"}],
)
def test_lookup_mismatch_says_the_same_and_reveals_nothing(where, changes):
    case = submit(reporter_phone="13800138000")
    data = {"number": case.number, "phone": "13800138000", **changes}
    response = Client().post("/r/track/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No report matches this tracking number and phone number" in html
    assert case.public_token not in html


def test_lookup_bad_input(where):
    html = Client().post("/r/track/", {"number": "abc", "phone": "12"}).content.decode()
    assert "only digits" in html and "is not a" in html


def test_anonymous_case_cannot_be_looked_up(where):
    case = submit(anonymous="on", reporter_phone="13800138000")
    response = Client().post("/r/track/", {"number": case.number, "phone": "13800138000"})
    assert response.status_code == 200


def test_confirmation_page_links_to_tracking(where):
    client = Client()
    response = client.post(f"/r/{COMMUNITY}/", report_data(form_key(client)))
    html = client.get(response["Location"]).content.decode()
    case = Case.objects.get()
    assert re.search(rf'href="/r/t/{case.public_token}/"', html)
    assert "Bookmark this page" in html
    assert category("environment").name_en in html


def test_forms_work_with_csrf_checks(where, officer):
    """A real browser: the token is in every form (and the referrer policy keeps the Origin header)."""
    client = Client(enforce_csrf_checks=True)
    html = client.get(f"/r/{COMMUNITY}/").content.decode()
    token = find(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    key = find(r'name="idempotency_key" value="([^"]+)"', html)
    response = client.post(f"/r/{COMMUNITY}/", {**report_data(key), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    case = Case.objects.get()
    html = client.get(track_url(case)).content.decode()
    token = find(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    data = {"action": "add_info", "note": "补充", "version": case.version, "csrfmiddlewaretoken": token}
    assert client.post(track_url(case), data).status_code == 302
    html = client.get("/r/track/").content.decode()
    token = find(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    data = {"number": case.number, "phone": "13800138000", "csrfmiddlewaretoken": token}
    assert client.post("/r/track/", data).status_code == 302
