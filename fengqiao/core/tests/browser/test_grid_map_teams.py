"""The district grid map and the team pages in a real browser (issue 5, items 5 and 6), desktop:
the map draws every grid of the district coloured by open cases with a legend, a click on a
grid opens its panel (workers, cases); the dispute resolution page draws its bar chart.
Screenshots: test-artifacts/screenshots/test_grid_map_and_teams/."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from fengqiao.demo.generator import DEMO_PASSWORD
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_grid_map_and_teams(new_page: Any, login: Any, shot: Any, live_server: Any) -> None:
    call_command("load_demo_district", residents_per_grid=0, cases=20, verbosity=0)
    page = new_page()
    login(page, "district_centre", DEMO_PASSWORD)

    page.goto(f"{live_server.url}/regions/map/")
    grids = page.locator("#grid-map path.leaflet-interactive")
    expect(grids).to_have_count(Region.objects.filter(level=Level.GRID).count())
    expect(page.locator(".gm-legend")).to_be_visible()
    box = page.locator("#grid-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator("#grid-panel h2")).to_be_visible()
    expect(page.locator("#grid-panel")).to_contain_text("网格")
    shot(page, "grid-map")

    team = Unit.objects.get(kind=UnitKind.MEDIATION_TEAM, name__contains="唐大叔")
    page.goto(f"{live_server.url}/teams/{team.pk}/")
    expect(page.locator("h1")).to_contain_text("唐大叔")
    shot(page, "team")
    page.goto(f"{live_server.url}/teams/resolution/")
    expect(page.locator("#rate-chart canvas")).to_have_count(1)
    shot(page, "resolution")
