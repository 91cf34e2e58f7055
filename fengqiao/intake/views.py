"""Resident reporting (一码解纠纷): one QR code per community, the phone report form, the
private tracking link; and the staff pages that print the codes.

Public views need no login. They are rate-limited per client
(``fengqiao.intake.ratelimit``) and never cached by proxies. The private link's
token is the only key to a case: a wrong token is a plain 404 and the page
shows nothing about staff or other cases.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.cases import selectors as case_selectors
from fengqiao.cases import services as case_services
from fengqiao.cases.models import OPEN_STATES, Case, CaseEvent, CaseState, Channel
from fengqiao.cases.services import MAX_DESCRIPTION
from fengqiao.core.excel import excel_response
from fengqiao.core.personal import index_for
from fengqiao.regions.models import Region
from fengqiao.system.selectors import get_parameter
from fengqiao.units.models import Unit, UnitKind

from . import qr, selectors, services
from .forms import (
    AddInfoForm,
    LookupForm,
    RateForm,
    ReopenForm,
    ReportForm,
    max_photo_mb,
    max_photos,
    new_idempotency_key,
    unsign_idempotency_key,
)
from .labels import NOTE_ACTIONS, RESIDENT_ACTIONS, action_words, state_words
from .models import SubmissionStatus
from .ratelimit import rate_limited

PAGE_SIZE = 25
MAX_POSTERS = 500


def _private(response: HttpResponseBase) -> HttpResponseBase:
    """Pages carrying a private link: never cached, never indexed, never sent to another site as a referrer."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # not "no-referrer": Chrome then sends "Origin: null" and CSRF fails
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _street_centre(community: Region) -> Unit | None:
    street = community.parent
    if street is None:
        return None
    return (
        Unit.objects.filter(region=street, kind=UnitKind.CENTRE, is_active=True)
        .exclude(phone="")
        .order_by("id")
        .first()
    )


# --- the report form ------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited("view", methods=("GET", "HEAD"))
@rate_limited("submit", methods=("POST",))
def report(request: HttpRequest, code: str) -> HttpResponseBase:
    community = selectors.public_community(code)
    categories = selectors.public_categories(community)
    key_value = request.POST.get("idempotency_key", "") if request.method == "POST" else ""
    photos_lost = False
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, categories=categories)
        key = unsign_idempotency_key(key_value)
        valid = form.is_valid()
        if key is None:
            key_value = new_idempotency_key()
            form.add_error(None, _("This form was out of date. Check your report and send it again."))
        elif valid:
            data = form.cleaned_data
            try:
                submission = services.receive_report(
                    community=community,
                    category=form.by_pk[data["category"]],
                    description=data["description"],
                    channel=Channel.QR,
                    lng=data.get("lng"),
                    lat=data.get("lat"),
                    address=data.get("address", ""),
                    reporter_name=data.get("reporter_name", ""),
                    reporter_phone=data.get("reporter_phone", ""),
                    anonymous=bool(data.get("anonymous")),
                    extra=data.get("extra") or {},
                    idempotency_key=key,
                    files=data.get("photos") or [],
                )
            except ValidationError as exc:
                form.apply_service_errors(exc)
            else:
                url = reverse("intake:submitted", args=[submission.public_token])
                return redirect(f"{url}?again=1" if submission.replayed else url)
        photos_lost = bool(request.FILES)
    else:
        form = ReportForm(categories=categories)
        key_value = new_idempotency_key()
    names = selectors.place_names(community)
    context = {
        "community": community,
        "names": names,
        "form": form,
        "idempotency_key": key_value,
        "extra_groups": form.extra_groups(),
        "map_data": selectors.community_map(community),
        "photos_lost": photos_lost,
        "max_photos": max_photos(),
        "max_photo_mb": max_photo_mb(),
        "max_description": MAX_DESCRIPTION,
        "centre": _street_centre(community),
        "categories": categories,
    }
    response = render(request, "intake/report.html", context)
    response["Cache-Control"] = "no-store"  # the hidden idempotency key is per rendering
    return response


# --- after submitting ------------------------------------------------------------------------------


def _received(request: HttpRequest, token: str, *, sent: bool) -> HttpResponseBase:
    """A report still in the inbox (or one that could not be registered): say so plainly.

    A token that is neither a case's nor an inbox row's is a plain 404. An inbox row linked to an
    older case (a form sent before the inbox existed) leads to that case's page.
    """
    submission = selectors.submission_for_token(token)
    if submission is None:
        raise Http404
    if submission.case_id is not None and submission.case is not None:
        name = "intake:submitted" if sent else "intake:track"
        return redirect(name, token=submission.case.public_token)
    pending = submission.status == SubmissionStatus.PENDING
    community = submission.community
    context = {
        "submission": submission,
        "pending": pending,
        "failed": submission.status == SubmissionStatus.FAILED,
        "category": selectors.category_label(submission.category),
        "tracking_url": selectors.tracking_url(request, submission.public_token),
        "again": request.GET.get("again") == "1",
        "centre": _street_centre(community) if community is not None else None,
        "sent": sent,
        "refresh_seconds": 3 if pending else None,
    }
    return _private(render(request, "intake/received.html", context))


@require_GET
@rate_limited("view")
def submitted(request: HttpRequest, token: str) -> HttpResponseBase:
    case = case_selectors.public_case(token)
    if case is None:
        return _received(request, token, sent=True)
    context = {
        "case": case,
        "tracking_url": selectors.tracking_url(request, case.public_token),
        "again": request.GET.get("again") == "1",
        "category": selectors.category_label(case.category),
    }
    return _private(render(request, "intake/submitted.html", context))


# --- the private tracking link ---------------------------------------------------------------------


def _unit_labels(events: list[CaseEvent]) -> dict[int, str]:
    """Staff actor id → the name of their unit (the only thing residents see about who acted)."""
    from fengqiao.accounts.models import User

    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    return {pk: name or "" for pk, name in User.objects.filter(pk__in=ids).values_list("pk", "unit__name")}


def timeline_entries(case: Case) -> list[dict[str, Any]]:
    """The public timeline in plain words: what happened, when, by which unit (never a person)."""
    events = case_selectors.public_timeline(case)
    units = _unit_labels(events)
    entries = []
    for event in events:
        if event.actor_id is not None:
            by = units.get(event.actor_id) or _("Governance centre")
        elif event.action in RESIDENT_ACTIONS:
            by = _("You")
        else:
            by = ""
        note = event.note if event.action in NOTE_ACTIONS else ""
        if event.action == "rate":
            rating = event.data.get("rating") if isinstance(event.data, dict) else None
            note = (f"{rating}/5 " if rating else "") + (event.note or "")
        entries.append(
            {
                "at": event.at,
                "label": action_words(event.action),
                "by": by,
                "note": note.strip(),
                "photos": len(event.attachments.all()),
                "mine": event.actor_id is None and event.action in RESIDENT_ACTIONS,
            }
        )
    return entries


def _reopen_allowed(case: Case) -> bool:
    if case.state != CaseState.CLOSED or case.closed_at is None or case.rating is None or case.rating > 2:
        return False
    window: Any = get_parameter("case.reopen_days", 14)
    days = int(window) if isinstance(window, int) and window > 0 else 14
    return timezone.now() - case.closed_at <= datetime.timedelta(days=days)


def _forms_for(case: Case) -> dict[str, Any]:
    initial = {"version": case.version}
    can_add = case.state in OPEN_STATES or case.state == CaseState.CLOSED
    return {
        "add_info": AddInfoForm(initial=initial, auto_id="id_info_%s") if can_add else None,
        "rate": RateForm(initial=initial, auto_id="id_rate_%s")
        if case.state == CaseState.CLOSED and case.rating is None
        else None,
        "reopen": ReopenForm(initial=initial, auto_id="id_reopen_%s") if _reopen_allowed(case) else None,
    }


_ACTION_FORMS: dict[str, tuple[type[Any], str]] = {
    "add_info": (AddInfoForm, "id_info_%s"),
    "rate": (RateForm, "id_rate_%s"),
    "reopen": (ReopenForm, "id_reopen_%s"),
}


def _resident_action(request: HttpRequest, case: Case, forms: dict[str, Any]) -> HttpResponseBase | None:
    """Apply the posted action; a redirect on success or a stale page, None to re-render with errors."""
    action = request.POST.get("action", "")
    if action not in _ACTION_FORMS or forms.get(action) is None:
        messages.warning(request, _("This is no longer possible for this case. Here is its current state."))
        return redirect("intake:track", token=case.public_token)
    form_class, auto_id = _ACTION_FORMS[action]
    form = form_class(request.POST, request.FILES, auto_id=auto_id)
    forms[action] = form
    if not form.is_valid():
        return None
    data = form.cleaned_data
    kwargs: dict[str, Any] = {"expected_version": data.get("version") or None}
    if action == "add_info":
        kwargs.update(note=data["note"], files=data.get("photos") or [])
    elif action == "rate":
        kwargs.update(rating=data["rating"], note=data.get("comment", ""))
    else:
        kwargs.update(reason=data["reason"])
    try:
        updated = case_services.resident_action(case.public_token, action, **kwargs)
    except case_services.ConcurrentUpdate:
        messages.warning(request, _("The case changed a moment ago. Here is its current state; please try again."))
        return redirect("intake:track", token=case.public_token)
    except PermissionDenied as exc:
        raise Http404 from exc
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for key, errors in exc.message_dict.items():
                field = {"note": "comment" if action == "rate" else "note", "files": "photos"}.get(key, key)
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            form.add_error(None, exc.messages)
        return None
    if action == "add_info":
        messages.success(request, _("Thank you. Your information was added to the case."))
    elif action == "rate":
        messages.success(request, _("Thank you for your rating."))
        if updated.rating is not None and updated.rating <= 2 and _reopen_allowed(updated):
            messages.info(request, _("If the problem is not solved, you can ask for it to be handled again below."))
    else:
        messages.success(request, _("Your case was reopened. The centre will look at it again."))
    return redirect("intake:track", token=case.public_token)


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited("view", methods=("GET", "HEAD"))
@rate_limited("submit", methods=("POST",))
def track(request: HttpRequest, token: str) -> HttpResponseBase:
    case = case_selectors.public_case(token)
    if case is None:
        if request.method == "POST" and selectors.submission_for_token(token) is not None:
            messages.info(request, _("Your report is still being registered; you can add to it in a moment."))
            return _private(redirect("intake:track", token=token))
        return _received(request, token, sent=False)
    forms = _forms_for(case)
    photos_lost = False
    if request.method == "POST":
        response = _resident_action(request, case, forms)
        if response is not None:
            return _private(response)
        photos_lost = bool(request.FILES)
    words, tone = state_words(case.state)
    due = None
    if case.state in OPEN_STATES and case.resolution_due and case.suspended_at is None:
        due = timezone.localtime(case.resolution_due).date()
    context = {
        "case": case,
        "category": selectors.category_label(case.category),
        "state_words": words,
        "state_tone": tone,
        "due": due,
        "suspended": case.state in OPEN_STATES and case.suspended_at is not None,
        "entries": timeline_entries(case),
        "forms": forms,
        "photos_lost": photos_lost,
        "tracking_url": selectors.tracking_url(request, case.public_token),
        "rejected": case.state == CaseState.REJECTED,
        "max_photos": max_photos(),
        "max_photo_mb": max_photo_mb(),
    }
    return _private(render(request, "intake/track.html", context))


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited("view", methods=("GET", "HEAD"))
@rate_limited("track", methods=("POST",))
def lookup(request: HttpRequest) -> HttpResponseBase:
    """Find one's private link again with the tracking number and the phone given with the report."""
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case = (
            Case.objects.filter(
                number=form.cleaned_data["number"],
                reporter_phone_index=index_for("phone", form.cleaned_data["phone"]),
            )
            .only("public_token")
            .first()
        )
        if case is not None:
            return redirect("intake:track", token=case.public_token)
        form.add_error(
            None,
            _(
                "No report matches this tracking number and phone number. Check both; "
                "a report sent anonymously can only be followed through its private link."
            ),
        )
    return _private(render(request, "intake/lookup.html", {"form": form}))


# --- QR codes ----------------------------------------------------------------------------------------


def _qr_response(request: HttpRequest, community: Region, content: bytes, content_type: str, ext: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="fengqiao-{community.code}.{ext}"'
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@rate_limited("view")
def qr_png(request: HttpRequest, code: str) -> HttpResponse:
    community = selectors.public_community(code)
    return _qr_response(request, community, qr.png(selectors.report_url(request, community)), "image/png", "png")


@require_GET
@rate_limited("view")
def qr_svg(request: HttpRequest, code: str) -> HttpResponse:
    community = selectors.public_community(code)
    content = qr.svg(selectors.report_url(request, community)).encode("utf-8")
    return _qr_response(request, community, content, "image/svg+xml", "svg")


# --- staff: codes and posters ----------------------------------------------------------------------


def _require_regions(request: HttpRequest) -> None:
    if not request.user.has_perm("regions.view_region"):
        raise PermissionDenied


def _filtered_communities(request: HttpRequest) -> tuple[QuerySet[Region], dict[str, Any]]:
    qs = selectors.staff_communities(request.user)
    q = request.GET.get("q", "").strip()
    street = request.GET.get("street", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q))
    if street.isdigit():
        qs = qs.filter(path__under=street)
    return qs, {"q": q, "street": street}


def _poster(request: HttpRequest, community: Region) -> dict[str, Any]:
    url = selectors.report_url(request, community)
    return {
        "community": community,
        "names": selectors.place_names(community),
        "url": url,
        "svg": qr.svg(url, inline=True),
        "categories": [selectors.category_label(c) for c in selectors.public_categories(community)],
        "centre": _street_centre(community),
    }


@login_required
@require_GET
def qr_list(request: HttpRequest) -> HttpResponse:
    _require_regions(request)
    qs, filters = _filtered_communities(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"community": c, "names": selectors.place_names(c), "url": selectors.report_url(request, c)} for c in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": rows,
        "streets": selectors.staff_streets(request.user),
        "filters": filters,
        "query": query.urlencode(),
        "total": page.paginator.count,
        "limits": selectors.rate_limit_table(),
        "max_posters": MAX_POSTERS,
    }
    return render(request, "intake/qr_list.html", context)


@login_required
@require_GET
def poster(request: HttpRequest, code: str) -> HttpResponse:
    _require_regions(request)
    community = selectors.staff_community(request.user, code)
    with translation.override(settings.LANGUAGE_CODE):  # posters speak the residents' language
        return render(request, "intake/posters.html", {"posters": [_poster(request, community)], "single": True})


@login_required
@require_GET
def posters(request: HttpRequest) -> HttpResponse:
    """Every poster of the (filtered) communities in scope, one per A4 page, ready to print."""
    _require_regions(request)
    qs, _filters = _filtered_communities(request)
    communities = list(qs[: MAX_POSTERS + 1])
    truncated = len(communities) > MAX_POSTERS
    with translation.override(settings.LANGUAGE_CODE):  # posters speak the residents' language
        context = {
            "posters": [_poster(request, c) for c in communities[:MAX_POSTERS]],
            "single": False,
            "truncated": truncated,
            "max_posters": MAX_POSTERS,
        }
        return render(request, "intake/posters.html", context)


def _export_rows(request: HttpRequest, communities: QuerySet[Region]) -> Iterator[list[Any]]:
    for c in communities.iterator(chunk_size=500):
        names = selectors.place_names(c)
        yield [
            names["district"],
            names["street"],
            c.name,
            c.code,
            selectors.report_url(request, c),
            selectors.public_base_url(request) + reverse("intake:qr_png", args=[c.code]),
        ]


@login_required
@require_GET
def qr_export(request: HttpRequest) -> HttpResponseBase:
    _require_regions(request)
    qs, _filters = _filtered_communities(request)
    headers = [_("District"), _("Street"), _("Community"), _("Code"), _("Report form link"), _("QR code (PNG)")]
    return excel_response(
        f"report-codes-{timezone.localdate():%Y%m%d}", headers, _export_rows(request, qs), _("Report codes")
    )


# --- staff: the intake inbox -------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Received reports that are not cases yet: failed ones (with the reason, to retry) and the queue."""
    if not request.user.has_perm("intake.view_submission"):
        raise PermissionDenied
    qs = selectors.inbox(request.user).exclude(status=SubmissionStatus.DONE)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "failed": qs.filter(status=SubmissionStatus.FAILED).count(),
        "pending": qs.filter(status=SubmissionStatus.PENDING).count(),
        "can_retry": request.user.has_perm("intake.change_submission"),
    }
    return render(request, "intake/inbox.html", context)


@login_required
@require_POST
def inbox_retry(request: HttpRequest, pk: int) -> HttpResponseBase:
    if not request.user.has_perm("intake.change_submission"):
        raise PermissionDenied
    submission = selectors.inbox(request.user).filter(pk=pk).first()
    if submission is None:
        raise Http404
    try:
        services.retry_submission(submission, actor=request.user)
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("The report is queued again; it is registered within seconds if the cause is fixed.")
        )
    return redirect("intake:inbox")
