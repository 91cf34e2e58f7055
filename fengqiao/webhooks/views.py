"""Staff pages: webhook subscribers, their secrets, the delivery log, test events and resends.

Reads through ``selectors`` (data scope: a subscriber outside it is a 404),
writes through ``services``. The signing secret is rendered once, in the
response to the request that created or rotated it, and never again.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import DeliveryFilterForm, ResumeForm, SubscriptionForm
from .models import DeliveryStatus, EventType, Subscription

PAGE_SIZE = 25


def _require(request: HttpRequest, action: str) -> None:
    if not request.user.has_perm(f"webhooks.{action}_subscription"):
        raise PermissionDenied


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, msgs in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, msgs)


def _event_names(sub: Subscription) -> list[str]:
    labels = dict(EventType.choices)
    return [str(labels.get(t, t)) for t in sub.event_types]


@login_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    _require(request, "view")
    subs = list(selectors.subscriptions(request.user))
    last = selectors.last_deliveries(subs)
    rows = [{"s": s, "events": _event_names(s), "last": last.get(s.pk)} for s in subs]
    return render(
        request,
        "webhooks/list.html",
        {"rows": rows, "can_add": request.user.has_perm("webhooks.add_subscription")},
    )


def _secret_page(request: HttpRequest, sub: Subscription, secret: str, *, rotated: bool) -> HttpResponse:
    response = render(request, "webhooks/secret.html", {"sub": sub, "secret": secret, "rotated": rotated})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def subscription_create(request: HttpRequest) -> HttpResponse:
    _require(request, "add")
    form = SubscriptionForm(
        request.POST or None, user=request.user, initial={"event_types": [t.value for t in EventType]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            sub, secret = services.create_subscription(
                actor=request.user,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                region=form.region_obj(),
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return _secret_page(request, sub, secret, rotated=False)
    return render(request, "webhooks/form.html", {"form": form, "sub": None})


@login_required
@require_http_methods(["GET", "POST"])
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "change")
    sub = selectors.get_subscription(request.user, pk, "change")
    initial = {
        "name": sub.name,
        "url": sub.url,
        "event_types": sub.event_types,
        "region": str(sub.region_id),
        "description": sub.description,
    }
    form = SubscriptionForm(request.POST or None, user=request.user, action="change", initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_subscription(
                sub,
                actor=request.user,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                region=form.region_obj(),
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("webhooks:detail", pk=sub.pk)
    return render(request, "webhooks/form.html", {"form": form, "sub": sub})


@login_required
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "view")
    sub = selectors.get_subscription(request.user, pk)
    filters = DeliveryFilterForm(request.GET or None)
    status = event_type = ""
    if filters.is_bound and filters.is_valid():
        status = filters.cleaned_data["status"]
        event_type = filters.cleaned_data["event_type"]
    page = Paginator(selectors.deliveries(sub, status=status, event_type=event_type), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    can_change = request.user.has_perm("webhooks.change_subscription") and (
        selectors.subscriptions(request.user, "change").filter(pk=sub.pk).exists()
    )
    context = {
        "sub": sub,
        "events": _event_names(sub),
        "page": page,
        "filters": filters,
        "can_change": can_change,
        "can_delete": request.user.has_perm("webhooks.delete_subscription"),
        "resume_form": ResumeForm(),
        "held": sub.deliveries.filter(status=DeliveryStatus.HELD).count(),
        "pending": sub.deliveries.filter(status=DeliveryStatus.PENDING).exists(),
    }
    template = "webhooks/_deliveries.html" if request.htmx else "webhooks/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _post_action(request: HttpRequest, pk: int) -> Subscription:
    _require(request, "change")
    return selectors.get_subscription(request.user, pk, "change")


def _run(request: HttpRequest, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    return None


@login_required
@require_POST
def subscription_pause(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _post_action(request, pk)
    if _run(request, services.pause_subscription, sub, actor=request.user, reason=request.POST.get("reason", "")):
        messages.success(request, _("Paused. New events are held until you resume."))
    return redirect("webhooks:detail", pk=sub.pk)


@login_required
@require_POST
def subscription_resume(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _post_action(request, pk)
    form = ResumeForm(request.POST)
    send_held = form.is_valid() and form.cleaned_data["send_held"]
    if _run(request, services.resume_subscription, sub, actor=request.user, send_held=send_held):
        messages.success(request, _("Resumed."))
    return redirect("webhooks:detail", pk=sub.pk)


@login_required
@require_POST
def subscription_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _post_action(request, pk)
    secret = services.rotate_secret(sub, actor=request.user)
    return _secret_page(request, sub, secret, rotated=True)


@login_required
@require_POST
def subscription_ping(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _post_action(request, pk)
    delivery = services.send_test_event(sub, actor=request.user)
    messages.success(request, _("A test event was sent; its result is below."))
    return redirect("webhooks:delivery", pk=sub.pk, delivery_pk=delivery.pk)


@login_required
@require_http_methods(["GET", "POST"])
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    sub = selectors.get_subscription(request.user, pk, "delete")
    if request.method == "POST":
        services.delete_subscription(sub, actor=request.user)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": sub.name})
        return redirect("webhooks:list")
    return render(request, "webhooks/delete.html", {"sub": sub})


@login_required
def delivery_detail(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    _require(request, "view")
    sub = selectors.get_subscription(request.user, pk)
    delivery = selectors.get_delivery(sub, delivery_pk)
    try:
        pretty = json.dumps(json.loads(delivery.message.payload), ensure_ascii=False, indent=2)
    except ValueError:
        pretty = delivery.message.payload
    context = {
        "sub": sub,
        "d": delivery,
        "attempts": selectors.attempts(delivery)[:50],
        "payload": pretty,
        "can_change": request.user.has_perm("webhooks.change_subscription")
        and selectors.subscriptions(request.user, "change").filter(pk=sub.pk).exists(),
        "waiting": delivery.status == DeliveryStatus.PENDING,
    }
    return render(request, "webhooks/delivery.html", context)


@login_required
@require_POST
def delivery_resend(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    sub = _post_action(request, pk)
    delivery = selectors.get_delivery(sub, delivery_pk)
    if _run(request, services.resend_delivery, delivery, actor=request.user):
        messages.success(request, _("Sent again, with the same webhook-id."))
    return redirect("webhooks:delivery", pk=sub.pk, delivery_pk=delivery.pk)
