"""Browser journey on a phone: a community centre imports residents from Excel (check, preview,
confirm), a bad file lists its problems, and a special group is added on the resident page."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from fengqiao.accounts.models import User
from fengqiao.core.excel import write_workbook
from fengqiao.demo import loader
from fengqiao.demo.generator import DEFAULT_SEED, DEMO_PASSWORD, build_plan
from fengqiao.regions.models import Level
from fengqiao.registry import selectors
from fengqiao.registry.models import GroupMembership, Resident
from fengqiao.registry.tests.factories import make_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADERS = ["姓名", "身份证号", "性别", "出生日期", "联系电话", "网格编码", "户号", "住址", "与户主关系", "特殊人群"]


@pytest.fixture
def demo_district():
    loader.load(build_plan(DEFAULT_SEED, residents_per_grid=1))


def _no_horizontal_scroll(page) -> bool:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return width <= inner + 1


def test_import_preview_confirm_and_groups_on_a_phone(demo_district, live_server, new_page, login, shot, tmp_path):
    user = User.objects.get(username="community_1")
    grid = selectors.regions_in_scope(user, "registry.add_resident", (Level.GRID,)).first()
    assert grid is not None
    good = tmp_path / "residents.xlsx"
    rows = [
        [
            "钱多多",
            make_id("440305", "19520304", 311),
            "男",
            None,
            "13800138001",
            grid.code,
            "HB1",
            "枫溪一路1号",
            "户主",
            "留守老人",
        ],
        ["孙小红", make_id("440305", "19550506", 312), "女", None, "13800138002", grid.code, "HB1", "", "配偶", ""],
    ]
    write_workbook(str(good), HEADERS, rows)
    bad = tmp_path / "bad.xlsx"
    write_workbook(
        str(bad),
        HEADERS,
        [
            ["错号", make_id("440305", "19520304", 313)[:-1] + "0", "男", None, "123", grid.code, "", "", "", ""],
            [
                "重复",
                make_id("440305", "19520304", 311),
                "女",
                datetime.date(1952, 3, 4),
                "",
                "999999999999999",
                "",
                "",
                "",
                "",
            ],
        ],
    )
    page = new_page(mobile=True)
    login(page, "community_1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/registry/residents/import/")
    shot(page, "import-form")

    page.set_input_files("input[type=file]", str(bad))
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("#import-errors li").count() >= 4
    assert _no_horizontal_scroll(page)
    shot(page, "bad-file-problems")
    assert Resident.objects.filter(region_path=grid.path).count() == 1  # the demo's own resident only

    page.set_input_files("input[type=file]", str(good))
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("#import-preview").is_visible()
    assert "钱多多" not in page.content()  # masked in the preview
    shot(page, "preview")
    with page.expect_navigation():
        page.click("button[value=confirm]")
    assert Resident.objects.filter(region_path=grid.path).count() == 3
    shot(page, "imported")

    resident = Resident.objects.filter(region_path=grid.path, household__number="HB1", gender="F").get()
    page.goto(f"{live_server.url}/registry/residents/{resident.pk}/")
    page.click("#groups details > summary")
    page.select_option("select[name=new-group]", label="残疾人")
    page.fill("input[name=new-note]", "二级肢体残疾")
    with page.expect_navigation():
        page.click("#groups form[action$='/groups/'] button.primary")
    assert GroupMembership.objects.filter(resident=resident, group__code="disabled").exists()
    assert page.locator("#groups .tag").count() == 1
    assert _no_horizontal_scroll(page)
    shot(page, "resident-groups")
    page.goto(f"{live_server.url}/registry/places/")
    assert _no_horizontal_scroll(page)
    shot(page, "places")
    assert Path(good).exists()
