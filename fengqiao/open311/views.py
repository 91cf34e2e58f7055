"""Open311 GeoReport v2 endpoints (``/open311/v2/…``) and the staff pages that issue API keys.

Every endpoint answers in XML (``.xml``) or JSON (``.json``). Errors are an array
of ``{code, description}``: 404 for a missing resource, 403 for a missing, wrong
or revoked key, 429 beyond a key's rate limit, 400 for anything else. An
optional parameter sent empty counts as absent. ``jurisdiction_id`` is accepted
and ignored: one server, one jurisdiction.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from fengqiao.intake.ratelimit import client_id
from fengqiao.intake.selectors import public_base_url

from . import selectors, serializers, services
from .forms import ClientForm
from .models import ApiClient
from .services import Open311Error

FORMATS = ("xml", "json")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: when this server's Open311 interface last changed (discovery's ``changeset``)
CHANGESET = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
PAGE_SIZE = 25

Endpoint = Callable[..., HttpResponse]


def endpoint(methods: tuple[str, ...] = ("GET",)) -> Callable[[Endpoint], Callable[..., HttpResponse]]:
    """Format check, method check, key and rate limit, and ``Open311Error`` → error document."""

    def decorator(view: Endpoint) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, fmt: str, **kwargs: Any) -> HttpResponse:
            out = fmt.lower() if fmt.lower() in FORMATS else "xml"
            try:
                if fmt.lower() not in FORMATS:
                    raise Open311Error(400, _("Unknown format %(fmt)s; use xml or json.") % {"fmt": fmt[:10]})
                if request.method not in methods:
                    raise Open311Error(405, _("Method not allowed."))
                data = request.POST if request.method == "POST" else request.GET
                if _has_nul(data, kwargs):  # PostgreSQL text cannot hold NUL: refuse it up front
                    raise Open311Error(400, _("The request contains a NUL character."))
                raw_key = _param(data, "api_key")
                client = services.authenticate(raw_key) if raw_key else None
                services.check_rate(client, client_id(request))  # a wrong key counts against the address
                if raw_key and client is None:
                    raise Open311Error(403, _("The api_key is invalid or was revoked."))
                result = view(request, *args, out=out, client=client, **kwargs)
                if request.method == "GET":  # public reads: browser apps on other origins may use them
                    result["Access-Control-Allow-Origin"] = "*"
                return result
            except Open311Error as exc:
                result = serializers.errors(out, exc.status, *exc.descriptions)
                if exc.retry_after:
                    result["Retry-After"] = str(exc.retry_after)
                if exc.status == 405:
                    result["Allow"] = ", ".join(methods)
                return result

        return wrapper

    return decorator


def _has_nul(data: QueryDict, kwargs: dict[str, Any]) -> bool:
    values = [*kwargs.values(), *(k for k in data), *(v for _k, vs in data.lists() for v in vs)]
    return any("\x00" in str(v) for v in values)


def _param(data: QueryDict, name: str) -> str:
    """An optional parameter; sent empty counts as absent."""
    return (data.get(name) or "").strip()


_SPACE_OFFSET = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _datetime(data: QueryDict, name: str) -> datetime.datetime | None:
    raw = _param(data, name)
    if not raw:
        return None
    # an unencoded "+08:00" arrives as " 08:00"
    raw = _SPACE_OFFSET.sub(r"\1+\2", raw)
    value: datetime.datetime | None = None
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            if day is not None:
                value = datetime.datetime.combine(day, datetime.time.min)
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2999:  # far dates overflow the window arithmetic
        raise Open311Error(
            400, _("%(name)s is not a valid ISO 8601 date/time (e.g. 2026-01-01T00:00:00+08:00).") % {"name": name}
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _int(data: QueryDict, name: str, default: int, low: int, high: int) -> int:
    raw = _param(data, name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Open311Error(
            400,
            _("%(name)s must be a whole number from %(low)d to %(high)d.") % {"name": name, "low": low, "high": high},
        )
    return int(raw)


def _list(data: QueryDict, name: str) -> list[str]:
    return [part.strip() for part in _param(data, name).split(",") if part.strip()]


def _base_url(request: HttpRequest) -> str:
    """The endpoint's root, on ``FENGQIAO_PUBLIC_BASE_URL`` when set (behind a reverse proxy)."""
    path = reverse("open311:discovery", kwargs={"fmt": "xml"}).rsplit("/", 1)[0]
    return public_base_url(request) + path


# --- endpoints -----------------------------------------------------------------------------------


@endpoint()
def discovery(request: HttpRequest, *, out: str, client: Any) -> HttpResponse:
    base = _base_url(request)
    data = {
        "changeset": CHANGESET,
        "contact": _("Your district's governance centre"),
        "key_service": _(
            "API keys are issued by the district's system administrator (Administration › Open311 API keys)."
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return serializers.response(out, "discovery", data)


@endpoint()
def services_list(request: HttpRequest, *, out: str, client: Any) -> HttpResponse:
    rows = [selectors.service_row(c) for c in selectors.reportable_categories()]
    return serializers.response(out, "services", rows)


@endpoint()
def service_definition(request: HttpRequest, code: str, *, out: str, client: Any) -> HttpResponse:
    category = selectors.category_for_code(code)
    if category is None:
        raise Open311Error(404, _("Unknown service_code: %(code)s.") % {"code": code[:80]})
    return serializers.response(out, "service_definition", selectors.service_definition(category))


@endpoint(methods=("GET", "POST"))
def requests_endpoint(request: HttpRequest, *, out: str, client: Any) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, out, client)
    filters = _filters(request.GET)
    records = selectors.request_list(filters)
    return serializers.response(out, "service_requests", _rows(records, filters.extensions))


def _post_request(request: HttpRequest, out: str, client: ApiClient | None) -> HttpResponse:
    if client is None:
        raise Open311Error(403, _("An api_key is required to post a service request."))
    posted, number = services.submit_request(client, dict(request.POST.lists()))
    row: dict[str, Any] = {"service_request_id": number} if number else {"token": posted.token}
    row["service_notice"] = _("Thank you. The street governance centre will review your report.")
    row["account_id"] = _param(request.POST, "account_id") or None
    return serializers.response(out, "service_requests", [row], status=201)


def _filters(data: QueryDict) -> selectors.RequestFilters:
    extensions = _param(data, "extensions").lower()
    if extensions not in ("", "true", "false", "1", "0"):
        raise Open311Error(400, _("extensions must be true or false."))
    filters = selectors.RequestFilters(
        extensions=extensions in ("true", "1"),
        page=_int(data, "page", 1, 1, 100_000),
        page_size=_int(data, "page_size", selectors.MAX_PAGE_SIZE, 1, selectors.MAX_PAGE_SIZE),
    )
    ids = _list(data, "service_request_id")
    if ids:  # overrides every other filter
        if len(ids) > selectors.MAX_PAGE_SIZE:
            raise Open311Error(400, _("At most %(n)d service_request_id values.") % {"n": selectors.MAX_PAGE_SIZE})
        filters.ids = ids
        return filters
    codes = _list(data, "service_code")
    if codes:
        categories = []
        for code in codes:
            category = selectors.category_for_code(code)
            if category is None:
                raise Open311Error(400, _("Unknown service_code: %(code)s.") % {"code": code[:80]})
            categories.append(category)
        filters.service_codes = categories
    statuses = [s.lower() for s in _list(data, "status")]
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, _("status must be open, closed or both (comma separated)."))
    filters.statuses = sorted(set(statuses)) or None
    start, end = _datetime(data, "start_date"), _datetime(data, "end_date")
    if start is None:
        end = end or timezone.now()
        start = end - selectors.MAX_WINDOW
    elif end is None:
        end = start + selectors.MAX_WINDOW
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > selectors.MAX_WINDOW:
        raise Open311Error(400, _("start_date and end_date may be at most 90 days apart."))
    filters.start, filters.end = start, end
    filters.updated_after = _datetime(data, "updated_after")
    filters.updated_before = _datetime(data, "updated_before")
    return filters


def _rows(records: list[dict[str, Any]], extensions: bool) -> list[dict[str, Any]]:
    rows = selectors.request_rows(records)
    if extensions:
        history = selectors.notes([r["id"] for r in records])
        for record, row in zip(records, rows, strict=True):
            row["notes"] = history.get(record["id"], [])
    return rows


@endpoint()
def request_detail(request: HttpRequest, number: str, *, out: str, client: Any) -> HttpResponse:
    record = selectors.request_by_number(number, client)
    if record is None:
        raise Open311Error(404, _("No service request %(id)s.") % {"id": number[:20]})
    extensions = _param(request.GET, "extensions").lower() in ("true", "1")
    return serializers.response(out, "service_requests", _rows([record], extensions))


@endpoint()
def token_detail(request: HttpRequest, token: str, *, out: str, client: Any) -> HttpResponse:
    posted = selectors.posted_request_for_token(token)
    if posted is None:
        raise Open311Error(404, _("No service request for this token."))
    number = posted.case_number or services.case_number_for_token(posted.token)
    if number and not posted.case_number:
        type(posted).objects.filter(pk=posted.pk).update(case_number=number)
    return serializers.response(
        out, "service_requests", [{"service_request_id": number or None, "token": posted.token}]
    )


# --- staff pages: API keys -------------------------------------------------------------------------


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


@login_required
def client_list(request: HttpRequest) -> HttpResponse:
    _require(request, "open311.view_apiclient")
    page = Paginator(ApiClient.objects.select_related("created_by", "revoked_by"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    base = _base_url(request)
    return render(
        request,
        "open311/client_list.html",
        {
            "page": page,
            "base_url": base,
            "may_add": request.user.has_perm("open311.add_apiclient"),
            "may_revoke": request.user.has_perm("open311.change_apiclient"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def client_create(request: HttpRequest) -> HttpResponseBase:
    _require(request, "open311.add_apiclient")
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client, raw = services.issue_key(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for key, texts in exc.message_dict.items():
                for text in texts:
                    form.add_error(key if key in form.fields else None, text)
        else:
            # shown once, never stored: the page must not be cached
            response = render(request, "open311/client_created.html", {"client": client, "key": raw})
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "open311/client_form.html", {"form": form})


@login_required
@require_POST
def client_revoke(request: HttpRequest, pk: int) -> HttpResponseBase:
    _require(request, "open311.change_apiclient")
    client = get_object_or_404(ApiClient, pk=pk)
    try:
        services.revoke_key(client, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The key of “%(name)s” was revoked.") % {"name": client.name})
    return redirect("open311:clients")
