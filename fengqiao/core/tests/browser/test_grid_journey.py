"""The grid worker's phone journey (issue 5, item 7), on the demo district:

1. the street centre keeps the duty console open on a desktop;
2. a grid worker on a phone opens "my grid": counts by tier, the map, the households to visit;
3. opens a household that has not been assessed, records a visit with the phone's location
   and an assessment (emotional dispute escalating, suspected domestic violence) that turns it red;
4. the household page shows red with its reasons and the case that was opened;
5. the case appears on the street centre's duty console, live.

Each step saves a screenshot (test-artifacts/screenshots/test_grid_journey/) and checks the database.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from fengqiao.accounts.models import User
from fengqiao.cases.models import Case, CaseState, Channel, DutyAlert
from fengqiao.demo.generator import DEMO_PASSWORD
from fengqiao.grid import services
from fengqiao.grid.models import Assessment, HouseholdTier, Visit
from fengqiao.registry.models import Household
from fengqiao.units.models import GridAssignment, GridRole

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_TIMEOUT_MS = 15_000
NOTES = "入户走访：夫妻近期因债务问题多次激烈争吵，邻居反映曾听到摔东西的声音，女方情绪低落。"


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


def _no_sideways_scroll(page: Any, what: str) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{what} scrolls sideways on a phone: {width}px in a {inner}px viewport"


@pytest.fixture
def demo_district() -> None:
    call_command("load_demo_district", residents_per_grid=0, cases=0, verbosity=0)
    cache.clear()


def test_grid_journey(demo_district, live_server, new_page, login, shot):
    base = live_server.url
    worker = User.objects.get(username="grid_worker_1")
    assignment = (
        GridAssignment.objects.filter(user=worker, role=GridRole.GRID_WORKER, valid_to__isnull=True)
        .select_related("grid")
        .order_by("region_path")
        .first()
    )
    assert assignment is not None
    grid = assignment.grid
    lng, lat = grid.centroid_lng, grid.centroid_lat
    assert lng is not None and lat is not None and grid.boundary

    def home(n: int, dx: float, dy: float) -> Household:
        return Household.objects.create(
            number=f"{grid.path}{n:03d}",
            grid=grid,
            region_path=grid.path,
            address=f"枫溪一路{n}号",
            lng=lng + dx,
            lat=lat + dy,
        )

    target = home(1, 0.0, 0.0)
    calm, tense = home(2, 0.0004, 0.0003), home(3, -0.0004, -0.0002)
    services.assess_household(
        actor=worker,
        household=calm,
        answers={"emotional": "none", "domestic_violence": "none", "neighbour": "none", "police_calls": "none"},
    )
    services.assess_household(
        actor=worker,
        household=tense,
        answers={"emotional": "frequent", "domestic_violence": "threats", "neighbour": "minor", "police_calls": "none"},
    )
    centre = User.objects.get(username="street_centre_1")
    errors: list[str] = []

    def snap(page: Any, step: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, step)

    # --- 1. the street centre's duty console ------------------------------------------------------
    desk = new_page()
    desk.on("pageerror", lambda exc: errors.append(f"desk: {exc}"))
    login(desk, centre.username, DEMO_PASSWORD)
    desk.goto(f"{base}/cases/duty/")
    expect(desk.get_by_role("heading", name=zh("24-hour duty console"))).to_be_visible()
    snap(desk, "duty-console-before")

    # --- 2. the grid worker opens "my grid" on a phone ------------------------------------------
    phone = new_page(
        mobile=True,
        geolocation={"latitude": target.lat, "longitude": target.lng},
        permissions=["geolocation"],
    )
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
    login(phone, worker.username, DEMO_PASSWORD)
    phone.goto(f"{base}/grid/")
    expect(phone.get_by_role("heading", name=zh("My grid"))).to_be_visible()
    expect(phone.locator(".grid-name")).to_contain_text(grid.name)
    expect(phone.locator(".tier-tile.tier-orange b")).to_have_text("1")
    expect(phone.locator(".tier-tile.tier-green b")).to_have_text("1")
    expect(phone.locator(".tier-tile.tier-none b")).to_have_text("1")
    phone.wait_for_selector("#grid-map path.leaflet-interactive")
    expect(phone.locator("#grid-map path.household-dot")).to_have_count(3)
    expect(phone.locator("#grid-map path.tier-dot-orange")).to_have_count(1)
    _no_sideways_scroll(phone, "my grid")
    snap(phone, "my-grid")

    # --- 3. the household not assessed yet: open it, record a visit with an assessment ----------
    to_visit = phone.locator("section", has=phone.get_by_role("heading", name=zh("Households not assessed yet")))
    to_visit.get_by_role("link", name=target.number).click()
    expect(phone.get_by_role("heading", name=f"{zh('Household')} {target.number}")).to_be_visible()
    expect(phone.get_by_text(zh("This household has not been assessed yet."))).to_be_visible()
    snap(phone, "household-before")
    phone.get_by_role("link", name=zh("Record a visit")).click()
    expect(phone.get_by_role("heading", name=zh("Record a visit"))).to_be_visible()
    _no_sideways_scroll(phone, "the visit form")
    snap(phone, "visit-form")

    phone.get_by_role("button", name=zh("Use my location")).click()
    expect(phone.locator("#locate-status")).to_contain_text(zh("Location recorded."))
    phone.get_by_label(zh("What you found")).fill(NOTES)

    def choose(factor: str, level: str) -> None:
        box = phone.locator("fieldset.factor", has=phone.locator("legend", has_text=factor))
        box.get_by_label(level, exact=True).check()

    choose("情感纠纷", "矛盾激化")
    choose("家暴倾向", "疑似肢体冲突")
    choose("邻里矛盾", "轻微")
    choose("债务纠纷", "有债务纠纷")
    choose("既往警情", "1至2次")
    snap(phone, "visit-form-filled")
    with phone.expect_navigation():
        phone.get_by_role("button", name=zh("Save the visit")).click()

    # --- 4. the household page: red, with the reasons and the case ------------------------------
    assessment = Assessment.objects.select_related("case", "visit").get(household=target)
    case = assessment.case
    assert assessment.tier == "red" and assessment.score == 6 + 10 + 1 + 2 + 2
    assert [r["code"] for r in assessment.reasons] == [
        "domestic_violence",
        "emotional",
        "debt",
        "police_calls",
        "neighbour",
    ]
    visit = assessment.visit
    assert visit is not None and visit.notes == NOTES
    assert not visit.outside_grid and visit.located_grid_id == grid.pk
    assert visit.lng is not None and visit.lat is not None
    assert abs(visit.lng - (lng + 0.0)) < 1e-5 and abs(visit.lat - (lat + 0.0)) < 1e-5
    assert case is not None and case.channel == Channel.ASSESSMENT and case.state == CaseState.SUBMITTED
    assert case.grid_id == grid.pk and case.filed_by_id == worker.pk and case.triage_unit_id == centre.unit_id
    assert HouseholdTier.objects.get(household=target).case_id == case.pk
    expect(phone.locator(".tier-now .badge.tier-red")).to_be_visible()
    expect(phone.locator(".reasons")).to_contain_text("家暴倾向")
    expect(phone.locator(".tier-now")).to_contain_text(case.number)
    expect(phone.locator(".messages")).to_contain_text(case.number)
    expect(phone.locator("#tier-chart svg")).to_be_visible()
    _no_sideways_scroll(phone, "the household page")
    snap(phone, "household-red")

    phone.goto(f"{base}/grid/")
    expect(phone.locator(".tier-tile.tier-red b")).to_have_text("1")
    expect(phone.locator("#grid-map path.tier-dot-red")).to_have_count(1)
    cases_section = phone.locator("section", has=phone.get_by_role("heading", name=zh("Open cases in the grid")))
    expect(cases_section).to_contain_text(case.number)
    snap(phone, "my-grid-after")

    # --- 5. the case on the duty console ------------------------------------------------------
    row = desk.locator("#duty-feed tr[data-alert]", has_text=case.number)
    expect(row).to_be_visible(timeout=POLL_TIMEOUT_MS)
    assert DutyAlert.objects.filter(case=case, kind=DutyAlert.Kind.NEW_CASE, unit=centre.unit).exists()
    snap(desk, "duty-console-red-household")
    desk.goto(f"{base}/cases/{case.number}/")
    expect(desk.get_by_role("heading", name=case.number)).to_be_visible()
    expect(desk.locator("body")).to_contain_text(target.number)
    snap(desk, "case-page")

    assert Visit.objects.filter(household=target).count() == 1
    assert Case.objects.filter(channel=Channel.ASSESSMENT).count() == 1
    assert not errors, errors
