"""The working-day calendar page: a year as twelve month grids; click a day to edit it (htmx)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.services import record
from fengqiao.core.excel import excel_response

from . import selectors, services
from .forms import DayForm, YearForm
from .models import DayKind, Source

VIEW = "workdays.view_calendarday"
CHANGE = services.CHANGE_PERMISSION

#: column heads of the month grids, Monday first
WEEKDAY_HEADS = (
    pgettext_lazy("weekday column", "Mo"),
    pgettext_lazy("weekday column", "Tu"),
    pgettext_lazy("weekday column", "We"),
    pgettext_lazy("weekday column", "Th"),
    pgettext_lazy("weekday column", "Fr"),
    pgettext_lazy("weekday column", "Sa"),
    pgettext_lazy("weekday column", "Su"),
)


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _check_year(year: int) -> None:
    if not services.MIN_YEAR <= year <= services.MAX_YEAR:
        raise Http404


def _parse_day(value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise Http404 from exc
    _check_year(day.year)
    return day


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW)
    return redirect("workdays:year", year=timezone.localdate().year)


@login_required
@require_GET
def year_view(request: HttpRequest, year: int) -> HttpResponse:
    _require(request, VIEW)
    _check_year(year)
    year_row = selectors.years(request.user).filter(year=year).first()
    context = {
        "year": year,
        "year_row": year_row,
        "months": selectors.year_months(request.user, year),
        "summary": selectors.year_summary(request.user, year),
        "periods": selectors.named_periods(request.user, year),
        "years": selectors.listed_years(request.user, around=year),
        "warnings": selectors.calendar_warnings(),
        "can_change": request.user.has_perm(CHANGE),
        "weekdays": WEEKDAY_HEADS,
        "year_form": YearForm(initial={"complete": "0" if year_row and year_row.complete else "1"}),
    }
    return render(request, "workdays/year.html", context)


@login_required
@require_GET
def year_export(request: HttpRequest, year: int) -> HttpResponseBase:
    _require(request, VIEW)
    _check_year(year)
    rows = {r.date: r for r in selectors.days(request.user).filter(date__year=year)}
    record("workdays.export", actor=request.user, detail={"year": year})
    headers = [_("Date"), _("Weekday"), _("Working day"), _("Kind"), _("Holiday name"), _("Source")]
    sources = dict(Source.choices)

    def lines() -> Iterator[list[Any]]:
        day = dt.date(year, 1, 1)
        while day.year == year:
            cell = selectors.day_cell(day, rows.get(day))
            yield [
                day,
                str(WEEKDAYS[day.weekday()]),
                _("Yes") if cell.is_workday else _("No"),
                cell.kind_label(),
                cell.name,
                str(sources.get(cell.source, _("Not entered (Monday to Friday)"))),
            ]
            day += dt.timedelta(days=1)

    return excel_response(f"workdays-{year}", headers, lines(), title=_("Working days %(year)s") % {"year": year})


@login_required
@require_POST
def year_complete(request: HttpRequest, year: int) -> HttpResponse:
    _require(request, CHANGE)
    _check_year(year)
    form = YearForm(request.POST)
    if form.is_valid():
        try:
            services.set_year_complete(
                year, complete=form.cleaned_data["complete"], note=form.cleaned_data["note"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if form.cleaned_data["complete"]:
                messages.success(
                    request,
                    _("The calendar of %(year)s is marked complete; open deadlines are being recomputed.")
                    % {"year": year},
                )
            else:
                messages.warning(request, _("The calendar of %(year)s is marked not complete.") % {"year": year})
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("workdays:year", year=year)


@login_required
@require_http_methods(["GET", "POST"])
def day_edit(request: HttpRequest, day: str) -> HttpResponse:
    """The editor of one day: a fragment for htmx (the day cell is swapped out of band), or a plain page."""
    _require(request, VIEW)
    date = _parse_day(day)
    row = selectors.days(request.user).filter(date=date).first()
    cell = selectors.day_cell(date, row)
    saved = False
    if request.method == "POST":
        _require(request, CHANGE)
        form = DayForm(request.POST)
        if form.is_valid():
            try:
                row = services.set_day(
                    date, is_workday=form.cleaned_data["is_workday"], name=form.cleaned_data["name"], actor=request.user
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                cell = selectors.day_cell(date, row)
                saved = True
                if not _htmx(request):
                    messages.success(request, _("%(day)s saved.") % {"day": date_format(date, "DATE_FORMAT")})
                    return redirect("workdays:year", year=date.year)
    else:
        form = DayForm(initial={"is_workday": "1" if cell.is_workday else "0", "name": cell.name})
    context = {
        "cell": cell,
        "form": form,
        "saved": saved,
        "can_change": request.user.has_perm(CHANGE),
        "weekday": WEEKDAYS[date.weekday()],
        "kinds": DayKind,
    }
    template = "workdays/_day_editor.html" if _htmx(request) else "workdays/day.html"
    return render(request, template, context)
