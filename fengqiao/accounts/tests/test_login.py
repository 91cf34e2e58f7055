from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from fengqiao.accounts import lockout, services
from fengqiao.accounts.models import User
from fengqiao.accounts.tests.factories import PASSWORD, make_region, make_unit
from fengqiao.audit.models import AuditEvent
from fengqiao.regions.models import Level

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff() -> User:
    unit = make_unit("U-440305", "区综治中心", make_region("440305", "南山区", Level.COUNTY, None))
    return User.objects.create_user(username="zhang", password=PASSWORD, unit=unit)


def attempt(client: Client, password: str, username: str = "zhang", ip: str = "10.0.0.1") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_works_and_is_logged(client: Client, staff: User) -> None:
    response = attempt(client, PASSWORD)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor=staff).exists()


def test_lockout_after_five_failures_even_with_the_right_password(client: Client, staff: User) -> None:
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200
    response = attempt(client, "wrong")  # the fifth
    assert "15" in response.content.decode()
    response = attempt(client, PASSWORD)
    assert response.status_code == 200  # locked: not logged in
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 5
    assert AuditEvent.objects.filter(action="auth.login_locked", result="locked").count() == 1


def test_lock_is_per_username_and_address(client: Client, staff: User) -> None:
    for _ in range(5):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD, ip="10.0.0.2").status_code == 302  # another computer
    User.objects.create_user(username="li", password=PASSWORD, unit=staff.unit)
    assert attempt(Client(), PASSWORD, username="li").status_code == 302  # another account


def test_warning_before_the_lock(client: Client, staff: User) -> None:
    for _ in range(3):
        response = attempt(client, "wrong")
    body = response.content.decode()
    assert "2" in body and ("15" in body)


def test_success_resets_the_counter(client: Client, staff: User) -> None:
    for _ in range(4):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302


def test_limit_comes_from_the_system_parameter(client: Client, staff: User) -> None:
    from fengqiao.system.models import Parameter

    Parameter.objects.create(key=lockout.PARAMETER_KEY, name="登录失败锁定次数", value_type="integer", value=2)
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 200


def test_settings_default_and_bad_values(settings: Any) -> None:
    assert lockout.max_failures() == 5
    settings.FENGQIAO_LOGIN_MAX_FAILURES = 3
    assert lockout.max_failures() == 3
    settings.FENGQIAO_LOGIN_MAX_FAILURES = "lots"
    assert lockout.max_failures() == 5


def test_administrator_unlocks(client: Client, staff: User) -> None:
    for _ in range(5):
        attempt(client, "wrong")
    assert lockout.is_locked("zhang", "10.0.0.1")
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    services.unlock_login(actor=root, user=staff)
    assert not lockout.is_locked("zhang", "10.0.0.1")
    assert attempt(client, PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="accounts.user.unlock").exists()


def test_username_case_does_not_dodge_the_lock(client: Client, staff: User) -> None:
    for _ in range(5):
        attempt(client, "wrong", username="ZHANG")
    assert lockout.is_locked("zhang", "10.0.0.1")


def test_login_page_renders(client: Client) -> None:
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content
