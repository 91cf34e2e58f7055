"""First browser journeys on the demo district: an administrator at a desk, a grid worker on a phone."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from fengqiao.demo import loader
from fengqiao.demo.generator import DEFAULT_SEED, DEMO_PASSWORD, build_plan
from fengqiao.regions.models import Level, Region

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_district():
    """The demo district with one resident per grid (quick)."""
    loader.load(build_plan(DEFAULT_SEED, residents_per_grid=1))


def _url(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _no_horizontal_scroll(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_administrator_desktop_journey(demo_district, live_server, browser_page, login, shot):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, "login")
    login(page, "admin", DEMO_PASSWORD)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    shot(page, "home-zh")

    # English and back
    with page.expect_navigation():
        page.click("form.lang-switch button[value=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="Log out").is_visible()
    shot(page, "home-en")
    with page.expect_navigation():
        page.click("form.lang-switch button[value=zh-hans]")
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    # the region tree, when the regions UI is installed; otherwise the home page
    tree = _url("regions:tree")
    response = page.goto(f"{live_server.url}{tree or '/'}")
    assert response is not None and response.status == 200
    shot(page, "regions" if tree else "home")
    if tree:
        assert page.get_by_text("广东省").first.is_visible()
        page.goto(f"{live_server.url}{tree}?q=枫桥示范区")
        assert page.get_by_text("枫桥示范区").first.is_visible()
        shot(page, "regions-search")

    # a grid page with its map
    grid = Region.objects.filter(level=Level.GRID).order_by("path").first()
    assert grid is not None
    detail = _url("regions:grid_detail", grid.pk) or _url("regions:detail", grid.pk)
    if detail:
        response = page.goto(f"{live_server.url}{detail}")
        assert response is not None and response.status == 200
        page.wait_for_selector(".leaflet-container", timeout=10000)
        # the polygons arrive with the GeoJSON request after the page: wait for them
        page.wait_for_selector(".leaflet-interactive", state="attached", timeout=15000)
        assert page.locator(".leaflet-interactive").count() >= 1  # the grid polygon is drawn
        shot(page, "grid")
    assert errors == []


def test_grid_worker_phone_home(demo_district, live_server, new_page, login, shot):
    page = new_page(mobile=True)
    page.goto(f"{live_server.url}/accounts/login/")
    scroll_width, inner = _no_horizontal_scroll(page)
    shot(page, "login-phone")
    assert scroll_width <= 390, f"login page scrolls sideways: {scroll_width}px in a {inner}px viewport"
    login(page, "grid_worker_1", DEMO_PASSWORD)
    assert page.url.rstrip("/") == live_server.url
    shot(page, "home-phone")
    scroll_width, inner = _no_horizontal_scroll(page)
    assert inner == 390
    assert scroll_width <= 390, f"home page scrolls sideways: {scroll_width}px in a {inner}px viewport"


def test_wrong_password_stays_on_login(demo_district, live_server, browser_page, shot):
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    with page.expect_navigation():
        page.click("form:has(input[name=password]) button[type=submit]")
    assert "/accounts/login/" in page.url
    assert page.locator(".errors").is_visible()
    shot(page, "login-error")
