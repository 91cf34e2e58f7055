"""Personal API tokens: created on "My account", shown once, stored as a hash, revocable, expiring."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from fengqiao.accounts import token_services
from fengqiao.accounts.models import ApiToken
from fengqiao.accounts.tests.factories import make_user
from fengqiao.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_token_is_stored_as_a_hash_and_authenticates():
    user = make_user("app_owner", None)
    row, raw = token_services.create_token(actor=user, name="phone", days=30)
    assert raw.startswith("fq_") and len(raw) > 40
    assert row.key_hash == token_services.hash_token(raw) and raw not in row.key_hash
    assert row.prefix == raw[:10]
    assert not ApiToken.objects.filter(key_hash=raw).exists()
    assert token_services.authenticate_token(raw) == user
    assert ApiToken.objects.get(pk=row.pk).last_used_at is not None
    assert AuditEvent.objects.filter(action="accounts.token.create", object_id=str(row.pk)).exists()


def test_revoked_expired_unknown_and_inactive_tokens_are_refused():
    user = make_user("app_owner", None)
    row, raw = token_services.create_token(actor=user, name="phone", days=30)
    assert token_services.authenticate_token(raw + "x") is None
    assert token_services.authenticate_token("") is None
    assert token_services.authenticate_token("Bearer " + raw) is None
    token_services.revoke_token(actor=user, token_id=row.pk)
    assert token_services.authenticate_token(raw) is None
    assert AuditEvent.objects.filter(action="accounts.token.revoke").count() == 1
    assert AuditEvent.objects.filter(action="accounts.token.refused", result="failed").count() == 1

    row2, raw2 = token_services.create_token(actor=user, name="tablet", days=1)
    ApiToken.objects.filter(pk=row2.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert token_services.authenticate_token(raw2) is None

    _row3, raw3 = token_services.create_token(actor=user, name="laptop", days=1)
    user.is_active = False
    user.save()
    assert token_services.authenticate_token(raw3) is None


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [("", 30, "name"), ("x" * 101, 30, "name"), ("ok", 0, "days"), ("ok", 366, "days"), ("ok", None, "days")],
)
def test_bad_input_creates_nothing(name, days, field):
    user = make_user("app_owner", None)
    with pytest.raises(ValidationError) as exc:
        token_services.create_token(actor=user, name=name, days=days)
    assert field in exc.value.message_dict
    assert ApiToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="accounts.token.create").exists()


def test_someone_elses_token_cannot_be_revoked():
    owner, other = make_user("owner", None), make_user("other", None)
    row, raw = token_services.create_token(actor=owner, name="phone", days=30)
    with pytest.raises(ValidationError):
        token_services.revoke_token(actor=other, token_id=row.pk)
    assert token_services.authenticate_token(raw) == owner


def test_account_page_shows_the_token_once_and_revokes(client):
    user = make_user("page_user", None)
    client.force_login(user)
    page = client.get("/accounts/me/tokens/")
    assert page.status_code == 200
    response = client.post("/accounts/me/tokens/", {"name": "grid app", "days": "30"})
    assert response.status_code == 200
    row = ApiToken.objects.get(user=user)
    body = response.content.decode()
    assert "fq_" in body and row.prefix in body
    again = client.get("/accounts/me/tokens/").content.decode()
    assert row.prefix in again and 'id="new-token"' not in again  # shown once
    response = client.post(f"/accounts/me/tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_account_page_bad_input_keeps_what_was_typed(client):
    user = make_user("page_user", None)
    client.force_login(user)
    response = client.post("/accounts/me/tokens/", {"name": "grid app", "days": "999"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="grid app"' in body and "errorlist" in body
    assert ApiToken.objects.count() == 0
