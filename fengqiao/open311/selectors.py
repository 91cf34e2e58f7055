"""Reads for the Open311 endpoints: services, and the public view of service requests.

What ``GET requests`` shows (Open311 reads need no key: they are public):

- only cases of kind "report" in a category residents may choose (``is_public``),
  not in ``PRIVATE_CATEGORY_CODES`` (family disputes by default) and not opened
  by a household assessment: petitions (信访), personal services (代办, e.g. a
  no-crime certificate) and family matters are never listed;
- never the reporter (name, phone, e-mail), never staff names; the description
  with phone numbers, ID numbers and e-mail addresses blanked out;
- the place coarsely: the street and community names as ``address``, the
  community's code as ``address_id``, the point rounded to 0.001° (about 100 m);
- a client that posted a request with its key may read that request
  (``requests/{id}``, ``tokens/{token}``) even when it is not publicly listed.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from fengqiao.cases.models import OPEN_STATES, Case, CaseEvent, CaseKind, CaseState, Category, Channel
from fengqiao.intake.labels import action_words, state_words
from fengqiao.regions.models import Region

from .models import ApiClient, PostedRequest

#: categories never listed publicly even when residents may choose them (override in settings)
PRIVATE_CATEGORY_CODES: tuple[str, ...] = tuple(getattr(settings, "FENGQIAO_OPEN311_PRIVATE_CATEGORIES", ("family",)))
#: categories that cannot be reported through Open311 at all
UNREPORTABLE_KINDS = (CaseKind.PETITION,)
COORD_DECIMALS = 3
MAX_PAGE_SIZE = 1000
MAX_WINDOW = datetime.timedelta(days=90)


# --- services -------------------------------------------------------------------------------


def service_code(category: Category) -> str:
    """Category codes are unique per district: a district's own category is ``<district code>.<code>``."""
    if category.district_id is None:
        return category.code
    district = category.district
    return f"{district.code if district is not None else category.district_id}.{category.code}"


def reportable_categories() -> QuerySet[Category]:
    return (
        Category.objects.filter(is_public=True, is_active=True)
        .exclude(kind__in=UNREPORTABLE_KINDS)
        .select_related("district")
        .order_by("sort_order", "code", "id")
    )


def category_for_code(code: str) -> Category | None:
    """The reportable category with this service code, or None."""
    if not code or len(code) > 80:
        return None
    district_code, _sep, slug = code.rpartition(".")
    qs = reportable_categories().filter(code=slug)
    qs = qs.filter(district__code=district_code) if district_code else qs.filter(district__isnull=True)
    return qs.first()


def label(category: Category) -> str:
    if (get_language() or "").startswith("en") and category.name_en:
        return category.name_en
    return category.name


def _field_label(spec: dict[str, Any]) -> str:
    if (get_language() or "").startswith("en") and spec.get("label_en"):
        return str(spec["label_en"])
    return str(spec.get("label") or spec.get("code") or "")


def service_row(category: Category) -> dict[str, Any]:
    return {
        "service_code": service_code(category),
        "service_name": label(category),
        "description": category.description,
        "metadata": bool(category.extra_fields),
        "type": "realtime",
        "keywords": category.code,
        "group": str(category.get_kind_display()),
    }


DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def service_definition(category: Category) -> dict[str, Any]:
    attributes = []
    for order, spec in enumerate(category.extra_fields or [], start=1):
        datatype = spec.get("datatype", "string")
        attributes.append(
            {
                "variable": True,
                "code": str(spec.get("code", "")),
                "datatype": datatype if datatype in DATATYPES else "string",
                "required": bool(spec.get("required")),
                "datatype_description": _datatype_description(datatype),
                "order": order,
                "description": _field_label(spec),
                "values": [
                    {"key": str(v.get("key", "")), "name": str(v.get("name", ""))} for v in spec.get("values", [])
                ],
            }
        )
    return {"service_code": service_code(category), "attributes": attributes}


def _datatype_description(datatype: str) -> str:
    return {
        "number": _("A number"),
        "datetime": _("A date and time, ISO 8601 with time zone"),
        "singlevaluelist": _("One of the listed keys"),
        "multivaluelist": _("One or more of the listed keys, as attribute[code][]"),
    }.get(datatype, "")


# --- service requests ---------------------------------------------------------------------------


def public_requests() -> QuerySet[Case]:
    """Cases anyone may read through Open311 (see the module docstring)."""
    public_categories = list(
        Category.objects.filter(is_public=True, kind=CaseKind.REPORT)
        .exclude(code__in=PRIVATE_CATEGORY_CODES)
        .values_list("pk", flat=True)
    )
    return Case.objects.filter(kind=CaseKind.REPORT, category_id__in=public_categories).exclude(
        channel=Channel.ASSESSMENT
    )


#: the case columns a request is built from (plain values: no model instances, no joins; the
#: few categories, units and communities of a page are looked up afterwards)
RECORD_FIELDS = (
    "id",
    "number",
    "state",
    "channel",
    "category_id",
    "description",
    "lat",
    "lng",
    "received_at",
    "updated_at",
    "resolution_due",
    "suspended_at",
    "rejection_reason",
    "rejection_guidance",
    "unit_id",
    "community_id",
)


def _records(qs: QuerySet[Case]) -> QuerySet[Case, dict[str, Any]]:
    return qs.values(*RECORD_FIELDS)


@dataclass
class RequestFilters:
    ids: list[str] | None = None
    service_codes: list[Category] | None = None
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    statuses: list[str] | None = None
    updated_after: datetime.datetime | None = None
    updated_before: datetime.datetime | None = None
    page: int = 1
    page_size: int = MAX_PAGE_SIZE
    extensions: bool = False
    client: ApiClient | None = field(default=None)


def request_list(filters: RequestFilters) -> list[dict[str, Any]]:
    """One page of public requests, newest first; ``ids`` overrides every other filter."""
    return list(request_queryset(filters))


def request_queryset(filters: RequestFilters) -> QuerySet[Case, dict[str, Any]]:
    """The sliced query behind ``request_list``: a backward range scan of ``received_at``'s index
    (``-received_at, -id`` order, the window's bounds), stopping after the page."""
    qs = public_requests()
    if filters.ids is not None:
        qs = qs.filter(number__in=filters.ids)
        return _records(qs.order_by("-received_at", "-id"))[:MAX_PAGE_SIZE]
    if filters.service_codes:
        qs = qs.filter(category_id__in=[c.pk for c in filters.service_codes])
    if filters.start is not None:
        qs = qs.filter(received_at__gte=filters.start)
    if filters.end is not None:
        qs = qs.filter(received_at__lte=filters.end)
    if filters.statuses == ["open"]:
        qs = qs.filter(state__in=OPEN_STATES)
    elif filters.statuses == ["closed"]:
        qs = qs.exclude(state__in=OPEN_STATES)
    if filters.updated_after is not None:
        qs = qs.filter(updated_at__gt=filters.updated_after)
    if filters.updated_before is not None:
        qs = qs.filter(updated_at__lt=filters.updated_before)
    offset = (filters.page - 1) * filters.page_size
    return _records(qs.order_by("-received_at", "-id"))[offset : offset + filters.page_size]


def request_by_number(number: str, client: ApiClient | None = None) -> dict[str, Any] | None:
    """A public request, or one the given client posted itself; None otherwise."""
    if not number or len(number) > 20:
        return None
    record = _records(public_requests().filter(number=number)).first()
    if (
        record is None
        and client is not None
        and PostedRequest.objects.filter(client=client, case_number=number).exists()
    ):
        record = _records(Case.objects.filter(number=number)).first()
    return record


def posted_request_for_token(token: str) -> PostedRequest | None:
    if not token or len(token) > 40:
        return None
    return PostedRequest.objects.filter(token=token).first()


# --- the public view of a case ------------------------------------------------------------------

_REDACT = (
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail
    re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),  # resident ID number
    re.compile(r"(?<!\d)(\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"),  # landline
)


def redact(text: str) -> str:
    """Blank out phone numbers, ID numbers and e-mail addresses (residents type them into descriptions)."""
    for pattern in _REDACT:
        text = pattern.sub("***", text)
    return text


def status_notes(record: dict[str, Any], words_for: dict[str, str] | None = None) -> str:
    """The step and the outcome in plain words; a rejection with its reason and guidance."""
    state = record["state"]
    words = words_for[state] if words_for and state in words_for else str(state_words(state)[0])
    if state == CaseState.REJECTED:
        parts = [words]
        if record["rejection_reason"]:
            parts.append(_("Reason: %(reason)s") % {"reason": redact(record["rejection_reason"])})
        if record["rejection_guidance"]:
            parts.append(_("Guidance: %(guidance)s") % {"guidance": redact(record["rejection_guidance"])})
        return " ".join(parts)
    if state in OPEN_STATES and record["suspended_at"] is not None:
        return _("%(state)s (handling paused)") % {"state": words}
    return words


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, COORD_DECIMALS)


def request_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spec's request fields, in the spec's order, for case records (``RECORD_FIELDS``);
    missing values are None."""
    from fengqiao.units.models import Unit

    def ids(key: str) -> set[int]:
        return {r[key] for r in records if r[key] is not None}

    categories = {c.pk: c for c in Category.objects.filter(pk__in=ids("category_id")).select_related("district")}
    units = dict(Unit.objects.filter(pk__in=ids("unit_id")).values_list("pk", "name"))
    places = {
        pk: (code, " ".join(n for n in (street, name) if n))
        for pk, code, name, street in Region.objects.filter(pk__in=ids("community_id")).values_list(
            "pk", "code", "name", "parent__name"
        )
    }
    codes = {pk: service_code(c) for pk, c in categories.items()}
    names = {pk: label(c) for pk, c in categories.items()}
    # only requests posted through Open311 can have a media_url
    media = media_urls(r["number"] for r in records if r["channel"] == Channel.OPEN311)
    open_states = set(OPEN_STATES)
    words_for = {state: str(state_words(state)[0]) for state in CaseState.values}
    rows = []
    for r in records:
        open_ = r["state"] in open_states
        code, address = places.get(r["community_id"], (None, None))
        rows.append(
            {
                "service_request_id": r["number"],
                "status": "open" if open_ else "closed",
                "status_notes": status_notes(r, words_for),
                "service_name": names[r["category_id"]],
                "service_code": codes[r["category_id"]],
                "description": redact(r["description"]),
                "agency_responsible": units.get(r["unit_id"]),
                "service_notice": None,
                "requested_datetime": r["received_at"],
                "updated_datetime": r["updated_at"],
                "expected_datetime": r["resolution_due"] if open_ else None,
                "address": address or None,
                "address_id": code,
                "zipcode": None,
                "lat": _round(r["lat"]),
                "long": _round(r["lng"]),
                "media_url": media.get(r["number"]) or None,
            }
        )
    return rows


def media_urls(numbers: Iterable[str]) -> dict[str, str]:
    numbers = [n for n in numbers if n]
    if not numbers:
        return {}
    rows = PostedRequest.objects.filter(case_number__in=numbers).exclude(media_url="")
    return dict(rows.values_list("case_number", "media_url"))


def notes(ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The public history of each case (extension ``notes``): what happened, when, by which unit.

    Only events marked public; the summary is the resident-facing wording of the
    action; the agency is the acting staff member's unit, never the person; no free
    text (staff notes may name people).
    """
    from fengqiao.accounts.models import User

    if not ids:
        return {}
    events = list(
        CaseEvent.objects.filter(case_id__in=ids, public=True)
        .only("case_id", "at", "action", "actor_id")
        .order_by("case_id", "at", "id")
    )
    actors = {e.actor_id for e in events if e.actor_id is not None}
    units = dict(User.objects.filter(pk__in=actors).values_list("pk", "unit__name")) if actors else {}
    result: dict[int, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for event in events:
        result[event.case_id].append(
            {
                "datetime": event.at,
                "summary": str(action_words(event.action)),
                "agency": (units.get(event.actor_id) or None) if event.actor_id is not None else None,
            }
        )
    return result
