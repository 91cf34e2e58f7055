"""Every write of the Open311 app: API keys (issue, revoke, use), rate limits, and ``POST requests``.

A posted service request enters the case loop through ``hand_to_intake`` — the
one place that knows how (today: the intake inbox, write-behind): it returns
the case number when the case exists, or "" while it is pending, and
the endpoints answer with ``service_request_id`` or ``token`` accordingly
(never both, as the spec asks). ``tokens/{token}`` resolves a token through the
case's idempotency key ``open311:<token>``, which the inbox carries through to
the case it creates (``cases.services.create_case``).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.cases.models import Case, Category, Channel
from fengqiao.intake.ratelimit import count_in_window
from fengqiao.regions.models import Level, Region

from . import selectors
from .models import ApiClient, PostedRequest

KEY_PREFIX_LENGTH = 8
MAX_NAME = 100
#: requests per window for reads without a key, per client address
PUBLIC_RATE: tuple[int, int] = getattr(settings, "FENGQIAO_OPEN311_PUBLIC_RATE", (120, 60))


class Open311Error(Exception):
    """An error the endpoints answer as ``[{code, description}]`` with HTTP ``status``."""

    def __init__(self, status: int, *descriptions: str, retry_after: int = 0) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = descriptions
        self.retry_after = retry_after


# --- API keys --------------------------------------------------------------------------------


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def issue_key(*, name: str, contact: str = "", requests_per_minute: int = 60, actor: Any) -> tuple[ApiClient, str]:
    """Create a client and its key; the key is returned once and stored only as a hash."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Name the client system.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("At most %(max)d characters.") % {"max": MAX_NAME}]
    if len(contact or "") > 200:
        errors["contact"] = [_("At most %(max)d characters.") % {"max": 200}]
    if not isinstance(requests_per_minute, int) or requests_per_minute < 0 or requests_per_minute > 100_000:
        errors["requests_per_minute"] = [_("Enter a number between 0 and 100000.")]
    if errors:
        raise ValidationError(errors)
    raw = secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        name=name,
        contact=(contact or "").strip(),
        key_prefix=raw[:KEY_PREFIX_LENGTH],
        key_hash=hash_key(raw),
        requests_per_minute=requests_per_minute,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record(
        "open311.client.create",
        actor=actor,
        obj=client,
        after={"name": client.name, "key_prefix": client.key_prefix, "requests_per_minute": requests_per_minute},
    )
    return client, raw


@transaction.atomic
def revoke_key(client: ApiClient, *, actor: Any) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is not None:
        raise ValidationError({"key": [_("This key was already revoked.")]})
    client.revoked_at = timezone.now()
    client.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
    client.save(update_fields=["revoked_at", "revoked_by"])
    record("open311.client.revoke", actor=actor, obj=client, before={"revoked": False}, after={"revoked": True})
    return client


def authenticate(raw: str | None) -> ApiClient | None:
    """The active client with this key, or None (unknown, revoked or malformed)."""
    if not raw or len(raw) > 100:
        return None
    client = ApiClient.objects.filter(key_hash=hash_key(raw), revoked_at__isnull=True).first()
    if client is not None:
        now = timezone.now()
        # at most one write a minute per key, not one per request
        if client.last_used_at is None or now - client.last_used_at > datetime.timedelta(minutes=1):
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
            client.last_used_at = now
    return client


# --- rate limits (the fixed-window counters of fengqiao.intake.ratelimit) ---------------------------


def _hit(bucket: str, who: str, requests: int, seconds: int, now: float | None = None) -> int:
    """Count one request; 0 when within the limit, else the seconds until the window ends."""
    return count_in_window(f"fq:open311:rl:{bucket}:{who}", requests, seconds, now)


def check_rate(client: ApiClient | None, address: str) -> None:
    """Per key when a key was given, else per client address; raises a 429 ``Open311Error``."""
    if client is not None:
        retry = _hit("key", str(client.pk), client.requests_per_minute, 60)
    else:
        digest = hashlib.sha256(address.encode()).hexdigest()[:32]
        retry = _hit("public", digest, PUBLIC_RATE[0], PUBLIC_RATE[1])
    if retry:
        raise Open311Error(429, _("Too many requests; try again in %(s)d seconds.") % {"s": retry}, retry_after=retry)


# --- POST requests ---------------------------------------------------------------------------------


@dataclass
class Report:
    """A service request as posted, validated and resolved to a category and a place."""

    category: Category
    description: str
    token: str
    lng: float | None = None
    lat: float | None = None
    community: Region | None = None
    address: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    reporter_name: str = ""
    reporter_phone: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"open311:{self.token}"


def hand_to_intake(report: Report) -> str:
    """Give the report to the case loop; the case number, or "" while the case is pending.

    Through the intake inbox (``fengqiao.intake.services.receive_report``, write-behind): the
    report is checked and stored in one row; a worker turns it into a case moments later, with
    ``report.idempotency_key`` (so ``tokens/{token}`` finds it). With a task backend that runs
    at once the case exists on return. A point outside every grid with no community is refused
    here (400) rather than failing later in the inbox.
    """
    from fengqiao.intake.services import receive_report
    from fengqiao.regions.locate import locate

    lng, lat = report.lng, report.lat
    in_range = lng is not None and lat is not None and -180 <= lng <= 180 and -90 <= lat <= 90
    if report.community is None and in_range and locate(lng, lat)[0] is None:
        raise ValidationError({"community": [_("The point is outside every grid of this jurisdiction.")]})
    submission = receive_report(
        category=report.category,
        description=report.description,
        channel=Channel.OPEN311,
        community=report.community,
        lng=report.lng,
        lat=report.lat,
        address=report.address,
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
        extra=report.extra,
        idempotency_key=report.idempotency_key,
    )
    if submission.case_id is not None:
        return Case.objects.filter(pk=submission.case_id).values_list("number", flat=True).first() or ""
    return case_number_for_token(report.token)


def case_number_for_token(token: str) -> str:
    """The case number a token has become, or "" while it is still pending."""
    number = Case.objects.filter(idempotency_key=f"open311:{token}").values_list("number", flat=True).first()
    return number or ""


def _value(data: Mapping[str, list[str]], name: str) -> str:
    """An optional parameter: sent empty counts as absent."""
    values = data.get(name) or []
    return values[-1].strip() if values else ""


def _float(data: Mapping[str, list[str]], name: str) -> float | None:
    raw = _value(data, name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, _("%(name)s must be a number.") % {"name": name}) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Open311Error(400, _("%(name)s must be a number.") % {"name": name})
    return value


def attributes(data: Mapping[str, list[str]]) -> dict[str, Any]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2`` → {code: v or [v1, v2]}."""
    result: dict[str, Any] = {}
    for name, values in data.items():
        if not name.startswith("attribute[") or not values:
            continue
        rest = name[len("attribute[") :]
        if rest.endswith("][]"):
            code, many = rest[:-3], True
        elif rest.endswith("]"):
            code, many = rest[:-1], False
        else:
            continue
        if not code or "[" in code or "]" in code:
            continue
        cleaned = [v.strip() for v in values if v.strip()]
        if not cleaned:
            continue
        result[code] = cleaned if many else cleaned[-1]
    return result


def community_for_address(address: str) -> Region | None:
    """The current community whose name (the longest one) appears in a free-text address."""
    best: tuple[int, int] | None = None
    for pk, name in Region.objects.current().filter(level=Level.COMMUNITY).values_list("pk", "name"):
        if name and name in address and (best is None or len(name) > best[1]):
            best = (pk, len(name))
    return Region.objects.get(pk=best[0]) if best is not None else None


def community_for_id(address_id: str) -> Region | None:
    """``address_id`` is a community's or grid's region code (GB/T 2260 extended)."""
    if not address_id.isdigit() or len(address_id) > 20:
        return None
    region = (
        Region.objects.current()
        .filter(code=address_id, level__in=(Level.COMMUNITY, Level.GRID))
        .select_related("parent")
        .first()
    )
    if region is None:
        return None
    return region.parent if region.level == Level.GRID else region


def parse_report(data: Mapping[str, list[str]]) -> tuple[Report, str]:
    """Validate a posted form (everything but the key); returns the report and its ``media_url``."""
    code = _value(data, "service_code")
    if not code:
        raise Open311Error(400, _("service_code is required."))
    category = selectors.category_for_code(code)
    if category is None:
        raise Open311Error(400, _("Unknown service_code: %(code)s.") % {"code": code[:80]})
    lat, lng = _float(data, "lat"), _float(data, "long")
    address = _value(data, "address_string")
    address_id = _value(data, "address_id")
    community: Region | None = None
    if (lat is None) != (lng is None):
        raise Open311Error(400, _("Send both lat and long."))
    if lat is None and not address and not address_id:
        raise Open311Error(400, _("A location is required: lat and long, address_string or address_id."))
    if address_id:
        community = community_for_id(address_id)
        if community is None:
            raise Open311Error(400, _("Unknown address_id: %(id)s.") % {"id": address_id[:20]})
    if community is None and address:
        community = community_for_address(address)
        if community is None and lat is None:
            raise Open311Error(
                400, _("The address names no community of this jurisdiction; send lat and long or address_id.")
            )
    media_url = _value(data, "media_url")
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise Open311Error(400, _("media_url is not a valid http(s) URL.")) from None
        if len(media_url) > 500:
            raise Open311Error(400, _("media_url is too long."))
    name = (_value(data, "last_name") + _value(data, "first_name"))[:50]
    report = Report(
        category=category,
        description=_value(data, "description"),
        token=secrets.token_urlsafe(18),
        lng=lng,
        lat=lat,
        community=community,
        address=address[:200],
        extra=attributes(data),
        reporter_name=name,
        reporter_phone=_value(data, "phone"),
    )
    return report, media_url


_FIELD_NAMES = {
    "description": "description",
    "location": "lat/long",
    "community": "location",
    "reporter_phone": "phone",
    "category": "service_code",
}


@transaction.atomic
def submit_request(client: ApiClient, data: Mapping[str, list[str]]) -> tuple[PostedRequest, str]:
    """``POST requests``: validate, hand the report to the case loop, remember the token.

    Returns the posted request and the case number ("" while pending). Bad input raises a
    400 ``Open311Error`` and writes nothing.
    """
    report, media_url = parse_report(data)
    try:
        number = hand_to_intake(report)
    except ValidationError as exc:
        messages: list[str] = []
        for key, texts in exc.message_dict.items():
            name = _FIELD_NAMES.get(
                key, "attribute[" + key.removeprefix("extra_") + "]" if key.startswith("extra_") else key
            )
            messages.extend(f"{name}: {text}" for text in texts)
        raise Open311Error(400, *messages) from None
    posted = PostedRequest.objects.create(token=report.token, client=client, case_number=number, media_url=media_url)
    record(
        "open311.request.submit",
        actor=None,
        obj=posted,
        actor_name=client.name,
        detail={"client": client.pk, "service_code": selectors.service_code(report.category), "case": number},
    )
    return posted, number
