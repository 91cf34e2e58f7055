"""The staff pages that issue and revoke Open311 API keys (Administration › Open311 API keys)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from fengqiao.audit.models import AuditEvent
from fengqiao.intake.tests.factories import staff
from fengqiao.open311 import services
from fengqiao.open311.models import ApiClient

pytestmark = pytest.mark.django_db
PERMS = ["open311.view_apiclient", "open311.add_apiclient", "open311.change_apiclient"]


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_the_permissions(where):
    nobody = login(staff("nobody", ["cases.view_case"]))
    assert nobody.get("/open311/clients/").status_code == 403
    assert nobody.get("/open311/clients/new/").status_code == 403
    client, _raw = services.issue_key(name="App", actor=None)
    assert nobody.post(f"/open311/clients/{client.pk}/revoke/").status_code == 403
    assert ApiClient.objects.get().revoked_at is None
    viewer = login(staff("viewer", ["open311.view_apiclient"]))
    page = viewer.get("/open311/clients/").content.decode()
    assert "App" in page and "Issue a key" not in page and "Revoke" not in page
    assert viewer.get("/open311/clients/new/").status_code == 403
    assert Client().get("/open311/clients/").status_code == 302  # login first


def test_issue_shows_the_key_once_and_stores_a_hash(where):
    admin = login(staff("admin1", PERMS))
    assert "Open311 API keys" in admin.get("/").content.decode()  # the menu entry
    response = admin.post(
        "/open311/clients/new/", {"name": "市民通 App", "contact": "信息中心", "requests_per_minute": "30"}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    match = re.search(r'id="api-key">([^<]+)<', response.content.decode())
    assert match is not None
    raw = match.group(1)
    client = ApiClient.objects.get()
    assert client.key_hash == services.hash_key(raw) and raw not in client.key_hash
    assert client.requests_per_minute == 30 and client.created_by is not None
    assert client.created_by.username == "admin1"
    listing = admin.get("/open311/clients/").content.decode()
    assert client.key_prefix in listing and raw not in listing
    assert AuditEvent.objects.filter(action="open311.client.create").count() == 1
    assert services.authenticate(raw) == client


def test_issue_with_bad_input_writes_nothing(where):
    admin = login(staff("admin1", PERMS))
    response = admin.post("/open311/clients/new/", {"name": "", "requests_per_minute": "-1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "This field is required." in page and "errorlist" in page
    assert ApiClient.objects.count() == 0 and not AuditEvent.objects.filter(action__startswith="open311").exists()


def test_revoke(where):
    admin = login(staff("admin1", PERMS))
    client, raw = services.issue_key(name="App", actor=None)
    response = admin.post(f"/open311/clients/{client.pk}/revoke/", follow=True)
    assert "was revoked" in response.content.decode()
    client.refresh_from_db()
    assert client.revoked_at is not None and client.revoked_by is not None
    assert client.revoked_by.username == "admin1"
    assert services.authenticate(raw) is None
    assert AuditEvent.objects.filter(action="open311.client.revoke").count() == 1
    # twice: a clear message, nothing written
    response = admin.post(f"/open311/clients/{client.pk}/revoke/", follow=True)
    assert "already revoked" in response.content.decode()
    assert AuditEvent.objects.filter(action="open311.client.revoke").count() == 1
    assert admin.post("/open311/clients/999/revoke/").status_code == 404
