"""Audit pages: the operation log, the login log, one event, Excel export and chain verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response
from fengqiao.core.paging import CappedPaginator
from fengqiao.system.selectors import get_parameter

from . import selectors
from .forms import EventFilterForm, LoginFilterForm
from .labels import action_label, field_label, object_type_label, operator_label, result_label, source_label
from .models import AuditEvent, Category
from .sealing import verify_chain
from .services import record

VIEW_PERM = "audit.view_auditevent"
EXPORT_PERM = "audit.export_auditevent"


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _form(request: HttpRequest, kind: str) -> EventFilterForm:
    form_class = LoginFilterForm if kind == "login" else EventFilterForm
    return form_class(request.GET or None)


def _list(request: HttpRequest, kind: str) -> HttpResponse:
    _require(request, VIEW_PERM)
    form = _form(request, kind)
    qs = selectors.events(request.user, kind, form.filters())
    page = CappedPaginator(qs, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "kind": kind,
        "form": form,
        "page": page,
        "rows": [_row(e) for e in page.object_list],
        "can_export": request.user.has_perm(EXPORT_PERM),
        "list_url": reverse("audit:logins" if kind == "login" else "audit:operations"),
        "export_url": reverse("audit:login_export" if kind == "login" else "audit:operation_export"),
    }
    template = "audit/_event_results.html" if request.htmx else "audit/event_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _row(event: AuditEvent) -> dict[str, Any]:
    return {
        "event": event,
        "action_label": action_label(event.action),
        "result_label": result_label(event.result),
        "object_type_label": object_type_label(event.object_type),
        "source_label": source_label(event.source),
        "operator": operator_label(event.actor_name, event.source),
    }


@login_required
@require_GET
def operation_list(request: HttpRequest) -> HttpResponse:
    return _list(request, "operation")


@login_required
@require_GET
def login_list(request: HttpRequest) -> HttpResponse:
    return _list(request, "login")


def _export(request: HttpRequest, kind: str) -> HttpResponseBase:
    _require(request, VIEW_PERM)
    _require(request, EXPORT_PERM)
    form = _form(request, kind)
    filters = form.filters()
    qs = selectors.events(request.user, kind, filters)
    total = qs[: EXPORT_MAX_ROWS + 1].count()
    list_name = "audit:logins" if kind == "login" else "audit:operations"
    if total > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("More than %(max)d events match: narrow the time range or other filters, then export again.")
            % {"max": EXPORT_MAX_ROWS},
        )
        return redirect(f"{reverse(list_name)}?{request.GET.urlencode()}")
    record(
        "audit.export",
        actor=request.user,
        category=Category.ACCESS,
        detail={"log": kind, "filters": {k: str(v) for k, v in filters.items()}, "rows": total},
    )
    headers = [
        _("Time"),
        _("Category"),
        pgettext("audit log column", "Action"),
        _("Action code"),
        _("Result"),
        _("Operator"),
        _("Unit"),
        _("IP address"),
        _("Object type"),
        _("Object id"),
        _("Object"),
        _("Duration (ms)"),
        _("Source"),
        _("Request id"),
    ]

    def rows() -> Iterator[list[Any]]:
        for event in qs.iterator(chunk_size=2000):
            yield [
                event.at,
                event.get_category_display(),
                action_label(event.action),
                event.action,
                result_label(event.result),
                operator_label(event.actor_name, event.source),
                event.unit_name,
                event.ip,
                object_type_label(event.object_type),
                event.object_id,
                event.object_repr,
                event.duration_ms,
                source_label(event.source),
                event.request_id,
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    title = _("Login log") if kind == "login" else _("Operation log")
    name = "login-log" if kind == "login" else "operation-log"
    return excel_response(f"{name}-{stamp}", headers, rows(), title=title)


@login_required
@require_GET
def operation_export(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "operation")


@login_required
@require_GET
def login_export(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "login")


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1 if isinstance(value, (dict, list)) else None)


def change_rows(event: AuditEvent) -> list[dict[str, Any]]:
    """One row per key of before/after: field label, old and new text, whether it changed."""
    before = event.before if isinstance(event.before, dict) else ({} if event.before is None else {"": event.before})
    after = event.after if isinstance(event.after, dict) else ({} if event.after is None else {"": event.after})
    keys = list(dict.fromkeys([*before, *after]))
    return [
        {
            "key": key,
            "label": field_label(event.object_type, key) if key else "",
            "before": _pretty(before.get(key)),
            "after": _pretty(after.get(key)),
            "in_before": key in before,
            "in_after": key in after,
            "changed": before.get(key) != after.get(key),
        }
        for key in keys
    ]


@login_required
@require_GET
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, VIEW_PERM)
    event = get_object_or_404(selectors.event_detail(request.user), pk=pk)
    detail = event.detail if isinstance(event.detail, dict) else ({} if event.detail is None else {"": event.detail})
    context = {
        "event": event,
        "row": _row(event),
        "changes": change_rows(event),
        "detail_rows": [(k, _pretty(v)) for k, v in detail.items()],
        "back_url": reverse("audit:logins" if event.category == Category.LOGIN else "audit:operations"),
    }
    return render(request, "audit/event_detail.html", context)


@login_required
@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERM)
    recent = get_parameter("audit.verify_recent_blocks", 50)
    if not isinstance(recent, int) or recent < 1:
        recent = 50
    try:
        report = verify_chain(last_blocks=recent)
    except ImproperlyConfigured as exc:
        return render(request, "audit/verify.html", {"config_error": str(exc), "recent": recent}, status=503)
    return render(request, "audit/verify.html", {"report": report, "recent": recent})
