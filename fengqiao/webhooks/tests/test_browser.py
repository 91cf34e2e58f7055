"""A real browser: register a receiving platform, see the secret once, send a test event, read the log."""

from __future__ import annotations

import pytest

from fengqiao.accounts.tests.factories import PASSWORD
from fengqiao.core.tests.browser.conftest import browser, browser_page, login, new_page, shot  # noqa: F401
from fengqiao.webhooks.models import Delivery, Subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_horizontal_scroll(page):
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner + 1, (width, inner)


def test_register_test_event_and_log(world, live_server, browser_page, new_page, login, shot, httpserver):  # noqa: F811
    httpserver.expect_request("/hook").respond_with_data("ok")
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "district_admin", PASSWORD)
    page.goto(f"{live_server.url}/webhooks/")
    shot(page, "list-empty")
    page.click("text=新增订阅方")
    page.fill("input[name=name]", "市大数据局")
    page.fill("input[name=url]", "http://169.254.169.254/latest/meta-data/")
    page.select_option("select[name=region]", str(world.regions["440305"].pk))
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    assert page.locator(".has-error").first.is_visible()
    assert "元数据" in page.locator(".has-error .errorlist").first.inner_text()
    assert page.input_value("input[name=name]") == "市大数据局"  # kept
    assert not Subscription.objects.exists()
    shot(page, "refused-url")
    page.fill("input[name=url]", f"http://127.0.0.1:{httpserver.port}/hook")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("whsec_")
    shot(page, "secret-once")
    with page.expect_navigation():
        page.click("text=我已复制")
    assert secret not in page.content()
    with page.expect_navigation():
        page.click("text=发送测试事件")
    page.wait_for_selector("text=已送达")
    shot(page, "test-event-delivered")
    assert Delivery.objects.get().status == "succeeded"
    assert len(httpserver.log) == 1
    page.click("text=‹ 市大数据局")
    page.wait_for_selector("text=推送日志")
    shot(page, "detail-with-log")
    # a phone
    phone = new_page(mobile=True)
    login(phone, "district_admin", PASSWORD)
    sub = Subscription.objects.get()
    phone.goto(f"{live_server.url}/webhooks/{sub.pk}/")
    _no_horizontal_scroll(phone)
    shot(phone, "phone-detail")
    phone.goto(f"{live_server.url}/webhooks/")
    _no_horizontal_scroll(phone)
    shot(phone, "phone-list")
    assert not errors
