"""The JSON API in a browser: a staff user creates a token on a phone, and the interactive docs
(Swagger UI from local static files) load and list the case operations."""

from __future__ import annotations

import pytest

from fengqiao.accounts.models import ApiToken
from fengqiao.accounts.tests.factories import make_user

from .conftest import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_token_on_a_phone_and_local_api_docs(live_server, new_page, login, shot):
    user = make_user("api_user", None)
    user.set_password(TEST_PASSWORD)
    user.save()
    page = new_page(mobile=True)
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url) if not r.url.startswith(live_server.url) and r.url.startswith("http") else None
        ),
    )
    login(page, "api_user")
    page.goto(f"{live_server.url}/accounts/me/tokens/")
    page.fill("input[name=name]", "网格 App")
    page.fill("input[name=days]", "30")
    page.click("form button[type=submit].primary")
    page.wait_for_selector("#new-token")
    value = page.input_value("#new-token")
    assert value.startswith("fq_") and ApiToken.objects.get(user=user).prefix == value[:10]
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1] + 1, width  # no sideways scrolling on a 390 px phone
    shot(page, "token-created-phone")

    docs = new_page()
    docs.on(
        "request",
        lambda r: (
            external.append(r.url) if not r.url.startswith(live_server.url) and r.url.startswith("http") else None
        ),
    )
    docs.goto(f"{live_server.url}/api/v1/docs")
    docs.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    text = docs.locator(".swagger-ui").inner_text()
    assert "/api/v1/cases/{case_id}/actions/{action}" in text
    shot(docs, "api-docs")
    assert external == [], external  # no CDN
