"""Personal API tokens: create (shown once), revoke, and check a presented token.

A staff user creates tokens for their own apps on "My account"; a token acts as
its user (same permissions, same data scope), so a deactivated user's tokens stop
working at once. Only ``sha256(token)`` is stored. Every token expires (at most
``MAX_DAYS`` days). Creating and revoking are audited; a refused token is
logged as a failed API login.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.models import Category
from fengqiao.audit.services import record

from .models import ApiToken, User

TOKEN_PREFIX = "fq_"  # noqa: S105 - a marker, not a secret
MAX_DAYS = 365
DEFAULT_DAYS = 90
MAX_ACTIVE_TOKENS = 20
#: last_used_at is written at most this often per token (not on every request)
TOUCH_EVERY = datetime.timedelta(minutes=5)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def active_tokens(user: Any) -> Any:
    now = timezone.now()
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=now)


@transaction.atomic
def create_token(*, actor: Any, name: str, days: int | None = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """A new token for ``actor`` itself; returns the row and the token (shown once, never stored)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("Log in first."))
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Give the token a name, e.g. the app or device that will use it.")]
    elif len(name) > 100:
        errors["name"] = [_("The name is too long (at most 100 characters).")]
    if days is None or not 1 <= days <= MAX_DAYS:
        errors["days"] = [_("A token is valid for 1 to %(max)d days.") % {"max": MAX_DAYS}]
    if active_tokens(actor).count() >= MAX_ACTIVE_TOKENS:
        errors.setdefault("name", []).append(
            _("You already have %(n)d active tokens: revoke one you no longer use.") % {"n": MAX_ACTIVE_TOKENS}
        )
    if errors:
        raise ValidationError(errors)
    assert days is not None  # noqa: S101 - checked above
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name,
        prefix=raw[:10],
        key_hash=hash_token(raw),
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )
    record(
        "accounts.token.create",
        actor=actor,
        obj=token,
        after={"name": name, "prefix": token.prefix, "expires_at": token.expires_at.isoformat()},
    )
    return token, raw


@transaction.atomic
def revoke_token(*, actor: Any, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (someone else's token is "not found")."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("Log in first."))
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise ValidationError(_("No such token."))
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record("accounts.token.revoke", actor=actor, obj=token, after={"name": token.name, "prefix": token.prefix})
    return token


def authenticate_token(raw: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked, expired, user inactive)."""
    if not raw or len(raw) > 200 or not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user", "user__unit").filter(key_hash=hash_token(raw)).first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        if token is not None:
            record(
                "accounts.token.refused",
                actor=None,
                obj=token,
                detail={"prefix": token.prefix, "revoked": token.revoked_at is not None},
                category=Category.LOGIN,
                result="failed",
                actor_name=token.user.get_username(),
            )
        return None
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
