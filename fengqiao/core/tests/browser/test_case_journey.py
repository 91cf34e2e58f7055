"""The whole case loop in a real browser (issue 3, item 10), on the demo district:

1. a resident on a phone opens a community's code URL (what its QR code encodes) and reports;
2. the street centre sees the report appear live on the duty console, acknowledges it and
   assigns the case to the grid worker of the grid the resident tapped on the map;
3. that grid worker, on a phone, accepts the task and reports the result with a photo;
4. the street centre passes the review and closes the case;
5. the resident opens the private link and rates the outcome.

Each step saves a screenshot (test-artifacts/screenshots/test_case_journey/) and checks
the database: the case's state and its events.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from fengqiao.accounts.models import User
from fengqiao.audit.models import AuditEvent
from fengqiao.cases.models import Attachment, Case, CaseState, Category, DutyAlert
from fengqiao.demo.generator import DEMO_PASSWORD
from fengqiao.intake import qr
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import GridAssignment, GridRole

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: the duty console polls every 5 s; allow one missed poll and a slow machine
POLL_TIMEOUT_MS = 15_000
DESCRIPTION = "3号楼2单元楼道里堆满了纸箱和旧家具，已经堵住了消防通道，晚上回家很不安全，请尽快处理。"
FEEDBACK = "网格员已上门核查，楼道杂物已全部清理，消防通道恢复畅通，并提醒住户不得再堆放。"
COMMENT = "处理很及时，谢谢网格员！"
ASSIGN_NOTE = "请网格员尽快上门核查处理。"  # internal: never shown to the resident


def zh(msgid: str) -> str:
    """The Chinese text the pages show for an English msgid (the pages are served in zh-hans)."""
    with translation.override("zh-hans"):
        return gettext(msgid)


def state_label(state: str) -> str:
    with translation.override("zh-hans"):
        return str(CaseState(state).label)


def _events(case: Case) -> list[str]:
    return list(case.events.order_by("at", "id").values_list("action", flat=True))


def _jpeg(path: Path) -> Path:
    picture = Image.new("RGB", (96, 64), (40, 120, 60))
    ImageDraw.Draw(picture).rectangle((20, 20, 75, 43), fill=(240, 240, 240))
    picture.save(path, "JPEG", quality=85)
    return path


def _no_sideways_scroll(page: Any, what: str) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{what} scrolls sideways on a phone: {width}px in a {inner}px viewport"


@pytest.fixture
def demo_district() -> None:
    """Regions, units, staff, grid assignments, the working-day calendar and the default categories."""
    call_command("load_demo_district", residents_per_grid=0, cases=0, extras=False, verbosity=0)
    cache.clear()  # the public pages' rate-limit counters live in the (process-wide) cache


def test_case_journey(demo_district, live_server, new_page, login, shot, tmp_path):
    base = live_server.url
    centre = User.objects.select_related("unit__region").get(username="street_centre_1")
    assert centre.unit is not None
    street = centre.unit.region
    assert street.level == Level.STREET
    community = Region.objects.filter(parent=street, level=Level.COMMUNITY).order_by("path").first()
    assert community is not None
    grids = list(Region.objects.filter(parent=community, level=Level.GRID).order_by("path"))
    # the grid to tap on: the first one with a grid worker (the map draws the grids in path order)
    worked = set(
        GridAssignment.objects.filter(grid__in=grids, role=GridRole.GRID_WORKER, valid_to__isnull=True).values_list(
            "grid_id", flat=True
        )
    )
    grid_index, grid = next((i, g) for i, g in enumerate(grids) if g.pk in worked)
    category = Category.objects.get(code="hazard", district__isnull=True)
    hazard_field = category.extra_fields[0]
    hazard_choice = hazard_field["values"][0]  # 楼道堆物
    errors: list[str] = []

    def snap(page: Any, step: str) -> None:
        # from the top: a full-page screenshot of a scrolled page draws the sticky top bar mid-page
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, step)

    # --- 0. the street centre keeps the duty console open ------------------------------------------
    desk = new_page()
    desk.on("pageerror", lambda exc: errors.append(f"desk: {exc}"))
    login(desk, "street_centre_1", DEMO_PASSWORD)
    desk.goto(f"{base}/cases/duty/")
    expect(desk.get_by_role("heading", name=zh("24-hour duty console"))).to_be_visible()
    snap(desk, "duty-console-before")

    # --- 1. a resident on a phone scans the community's code and reports --------------------------
    resident = new_page(mobile=True)
    resident.on("pageerror", lambda exc: errors.append(f"resident: {exc}"))
    report_url = f"{base}/r/{community.code}/"
    png = resident.request.get(f"{base}/r/qr/{community.code}.png")
    assert png.ok and png.headers["content-type"] == "image/png"
    body = png.body()
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body == qr.png(report_url), "the QR code does not encode the community's report URL"
    (tmp_path / "qr.png").write_bytes(body)
    with Image.open(tmp_path / "qr.png") as image:
        assert image.format == "PNG" and image.width == image.height >= 200

    response = resident.goto(report_url)
    assert response is not None and response.status == 200
    expect(resident.get_by_role("heading", name=zh("Report a problem"))).to_be_visible()
    expect(resident.get_by_text(community.name).first).to_be_visible()
    _no_sideways_scroll(resident, "the report form")
    snap(resident, "resident-report-form")

    resident.get_by_label(category.name, exact=True).check()
    extra = resident.get_by_label(hazard_field["label"])
    expect(extra).to_be_visible()  # the chosen category's extra field appears
    extra.select_option(hazard_choice["key"])
    resident.get_by_label(zh("Describe the problem")).fill(DESCRIPTION)
    resident.locator("input[type=file][name=photos]").set_input_files(str(_jpeg(tmp_path / "before.jpg")))
    expect(resident.locator(".file-list")).to_contain_text("before.jpg")

    # tap inside the chosen grid on the map (the grid outlines are the dashed paths)
    resident.wait_for_selector("#report-map .leaflet-interactive")
    grid_paths = resident.locator('#report-map path.leaflet-interactive[stroke-dasharray="4 4"]')
    expect(grid_paths).to_have_count(len(grids))
    resident.locator("#report-map").evaluate("map => map.scrollIntoView({block: 'center'})")
    box = grid_paths.nth(grid_index).bounding_box()
    assert box is not None
    resident.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(resident.locator("#point-status")).to_have_text(zh("Place marked on the map."))
    assert resident.locator("input[name=lng]").input_value() != ""
    resident.get_by_label(zh("Address or place")).fill("3号楼2单元楼道")
    resident.get_by_label(zh("Your phone (optional)")).fill("13800138000")
    snap(resident, "resident-report-filled")

    with resident.expect_navigation():
        resident.get_by_role("button", name=zh("Send the report")).click()
    expect(resident.get_by_role("heading", name=zh("Your report has been received"))).to_be_visible()
    number = resident.locator("#tracking-number").inner_text().strip()
    private_link = resident.get_by_label(zh("Your private link")).input_value()
    assert re.fullmatch(r"\d{14}", number), number
    assert private_link.startswith(f"{base}/r/t/")
    _no_sideways_scroll(resident, "the confirmation page")
    snap(resident, "resident-report-received")

    case = Case.objects.select_related("grid", "community").get(number=number)
    assert case.state == CaseState.SUBMITTED
    assert case.channel == "qr" and case.category_id == category.pk
    assert case.community_id == community.pk
    assert case.grid_id == grid.pk, f"the tap landed in {case.grid} instead of {grid}"
    assert case.extra == {hazard_field["code"]: hazard_choice["key"]}
    assert case.description == DESCRIPTION
    assert case.reporter_phone_masked and "13800138000" not in case.reporter_phone_masked
    assert private_link.endswith(f"/r/t/{case.public_token}/")
    assert _events(case) == ["submit"]
    resident_photo = Attachment.objects.get(case=case)
    assert resident_photo.uploaded_by_resident and resident_photo.content_type == "image/jpeg"
    alert = DutyAlert.objects.get(case=case, kind=DutyAlert.Kind.NEW_CASE)
    assert alert.acknowledged_at is None

    # --- 2. the street centre sees it appear (no reload), acknowledges it and assigns it ----------
    row = desk.locator("#duty-feed tr[data-alert]", has_text=number)
    expect(row).to_be_visible(timeout=POLL_TIMEOUT_MS)
    expect(row).to_contain_text(category.name)
    snap(desk, "duty-console-new-report")
    row.get_by_role("button", name=zh("Acknowledge")).click()
    expect(row).to_have_count(0)
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.acknowledged_by_id == centre.pk
    assert AuditEvent.objects.filter(action="cases.alert.acknowledge", actor=centre).exists()
    snap(desk, "duty-console-acknowledged")

    desk.goto(f"{base}/cases/{number}/")
    expect(desk.get_by_role("heading", name=number)).to_be_visible()
    expect(desk.locator(".case-head")).to_contain_text(state_label(CaseState.SUBMITTED))
    worker = next(
        a.user
        for a in GridAssignment.objects.select_related("user").filter(
            grid=grid, role=GridRole.GRID_WORKER, valid_to__isnull=True
        )
    )
    assign = desk.locator("#action-assign")
    assign.locator("summary").click()
    assign.locator("select[name=assign-target_user]").select_option(str(worker.pk))
    assign.locator("textarea[name=assign-note]").fill(ASSIGN_NOTE)
    snap(desk, "centre-triage-assign")
    with desk.expect_navigation():
        assign.get_by_role("button", name=zh("Assign")).click()
    expect(desk.locator(".case-head")).to_contain_text(state_label(CaseState.ASSIGNED))
    snap(desk, "centre-assigned")
    case.refresh_from_db()
    assert case.state == CaseState.ASSIGNED
    assert case.assignee_id == worker.pk and case.unit_id == worker.unit_id
    assert case.first_responded_at is not None
    assert _events(case) == ["submit", "assign"]

    # --- 3. the grid worker, on a phone, accepts the task and reports the result with a photo ----
    phone = new_page(mobile=True)
    phone.on("pageerror", lambda exc: errors.append(f"grid worker: {exc}"))
    login(phone, worker.username, DEMO_PASSWORD)
    phone.goto(f"{base}/cases/?mine=assigned")
    link = phone.get_by_role("link", name=number)
    expect(link).to_be_visible()
    _no_sideways_scroll(phone, "“my cases”")
    snap(phone, "grid-worker-my-cases")
    with phone.expect_navigation():
        link.click()
    expect(phone.get_by_role("heading", name=number)).to_be_visible()
    accept = phone.locator("#action-accept")
    accept.locator("summary").click()
    snap(phone, "grid-worker-case")
    with phone.expect_navigation():
        accept.get_by_role("button", name=zh("Accept the task")).click()
    expect(phone.locator(".case-head")).to_contain_text(state_label(CaseState.IN_PROGRESS))
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS and case.assignee_id == worker.pk
    assert _events(case) == ["submit", "assign", "accept"]

    feedback = phone.locator("#action-feedback")
    feedback.locator("summary").click()
    feedback.get_by_label(zh("What was done")).fill(FEEDBACK)
    feedback.locator("input[type=file][name=feedback-files]").set_input_files(str(_jpeg(tmp_path / "after.jpg")))
    snap(phone, "grid-worker-feedback")
    with phone.expect_navigation():
        feedback.get_by_role("button", name=zh("Report the result")).click()
    expect(phone.locator(".case-head")).to_contain_text(state_label(CaseState.REVIEW))
    expect(phone.locator(".photos img")).to_have_count(4)  # 2 photos, each in the gallery and on the timeline
    _no_sideways_scroll(phone, "the case page")
    snap(phone, "grid-worker-reported")
    case.refresh_from_db()
    assert case.state == CaseState.REVIEW and case.resolved_at is not None
    assert _events(case) == ["submit", "assign", "accept", "feedback"]
    photo = Attachment.objects.exclude(pk=resident_photo.pk).get(case=case)
    assert photo.content_type == "image/jpeg" and photo.uploaded_by_id == worker.pk
    assert photo.event is not None and photo.event.action == "feedback" and photo.event.note == FEEDBACK

    # --- 4. the street centre passes the review and closes the case ------------------------------
    desk.goto(f"{base}/cases/{number}/")
    expect(desk.locator(".case-head")).to_contain_text(state_label(CaseState.REVIEW))
    expect(desk.get_by_text(FEEDBACK).first).to_be_visible()
    review = desk.locator("#action-pass_review")
    review.locator("summary").click()
    snap(desk, "centre-review")
    with desk.expect_navigation():
        review.get_by_role("button", name=zh("Pass the review and close")).click()
    expect(desk.locator(".case-head")).to_contain_text(state_label(CaseState.CLOSED))
    snap(desk, "centre-closed")
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED and case.closed_at is not None
    assert case.resolution_outcome == "resolved"
    assert _events(case) == ["submit", "assign", "accept", "feedback", "pass_review"]

    # --- 5. the resident opens the private link and rates the outcome ----------------------------
    response = resident.goto(private_link)
    assert response is not None and response.status == 200
    expect(resident.locator(".case-head")).to_contain_text(number)
    expect(resident.get_by_text(FEEDBACK)).to_be_visible()  # the handler's public feedback
    rate = resident.locator("#rate")
    snap(resident, "resident-tracking-closed")
    rate.get_by_label(zh("5 · Very satisfied")).check()
    rate.get_by_label(zh("Comment (optional)")).fill(COMMENT)
    with resident.expect_navigation():
        rate.get_by_role("button", name=zh("Send my rating")).click()
    expect(resident.get_by_text(zh("Thank you for your rating."))).to_be_visible()
    expect(resident.locator("#rate")).to_have_count(0)
    expect(resident.locator(".case-head")).to_contain_text("5/5")
    expect(resident.get_by_text(COMMENT)).to_be_visible()
    page_text = resident.locator("body").inner_text()
    assert ASSIGN_NOTE not in page_text
    for person in (worker, centre):  # the resident never sees who handled it, only the unit
        assert person.username not in page_text and str(person) not in page_text
    _no_sideways_scroll(resident, "the tracking page")
    snap(resident, "resident-rated")
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    assert case.rating == 5 and case.rating_comment == COMMENT and case.rated_at is not None
    assert _events(case) == ["submit", "assign", "accept", "feedback", "pass_review", "rate"]
    assert list(case.events.filter(public=True).values_list("action", flat=True)) == [
        "submit",
        "assign",
        "feedback",
        "pass_review",
        "rate",
    ]
    assert Case.objects.count() == 1
    assert errors == []
