"""My notifications: the inbox, the unread badge in the top bar (polled by htmx), marking read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fengqiao.core.excel import excel_response

from . import selectors, services

PAGE_SIZE = 25


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponseBase:
    unread_only = request.GET.get("show") == "unread"
    qs = selectors.my_notifications(request.user, unread_only=unread_only)
    if request.GET.get("format") == "xlsx":
        return _export(request, qs)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "unread_only": unread_only, "unread": selectors.unread_count(request.user)}
    template = "notifications/_results.html" if _htmx(request) else "notifications/inbox.html"
    return render(request, template, context)


def _export(request: HttpRequest, qs: Any) -> HttpResponseBase:
    headers = [_("Sent"), _("Subject"), _("Message"), _("Link"), _("Read")]

    def rows() -> Iterator[list[Any]]:
        for n in qs.iterator(chunk_size=500):
            yield [n.created_at, n.subject, n.body, n.url, n.read_at]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"notifications-{stamp}", headers, rows(), title=_("My notifications"))


@login_required
@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """htmx fragment for the top bar: the number of unread notifications."""
    response = render(request, "notifications/_badge.html", {"unread": selectors.unread_count(request.user)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    services.mark_read(request.user)
    return redirect("notifications:inbox")


@login_required
@require_GET
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the notification read and follow its link (only links inside this site)."""
    notification = get_object_or_404(selectors.my_notifications(request.user), pk=pk)
    services.mark_read(request.user, [notification.pk])
    target = notification.url
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:inbox")
