"""The figures page (受理、办结、办结率、按期办结率、满意率 …) and its Excel export, within the data scope."""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from openpyxl import Workbook

from fengqiao.audit.models import Category as AuditCategory
from fengqiao.audit.services import record
from fengqiao.core.excel import XLSX_CONTENT_TYPE
from fengqiao.regions.models import Level, Region

from . import category_selectors, figures
from .figures import FigureParams, FigureSet, Row
from .models import CaseKind

VIEW_PERM = "cases.view_case"
MAX_DAYS = 3 * 366

PRESETS = (
    ("this_year", gettext_lazy("This year")),
    ("this_quarter", gettext_lazy("This quarter")),
    ("this_month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("last_12_months", gettext_lazy("Last 12 months")),
    ("custom", gettext_lazy("Dates below")),
)
GROUP_TITLES = {
    "unit": gettext_lazy("By handling unit"),
    "street": gettext_lazy("By street / town"),
    "community": gettext_lazy("By community / village"),
    "category": gettext_lazy("By category"),
    "period": gettext_lazy("By period of receipt"),
}
SHEET_TITLES = {
    "unit": gettext_lazy("By unit"),
    "street": gettext_lazy("By street"),
    "community": gettext_lazy("By community"),
    "category": gettext_lazy("By category"),
    "period": gettext_lazy("By period"),
}


def preset_range(preset: str, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - datetime.timedelta(days=1)
        return end.replace(day=1), end
    if preset == "this_quarter":
        month = 3 * ((today.month - 1) // 3) + 1
        return today.replace(month=month, day=1), today
    if preset == "last_12_months":
        year, month = (today.year - 1, today.month + 1) if today.month < 12 else (today.year, 1)
        return datetime.date(year, month, 1), today
    return today.replace(month=1, day=1), today


class FiguresFilterForm(forms.Form):
    preset = forms.ChoiceField(label=gettext_lazy("Period"), choices=PRESETS, required=False)
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period = forms.ChoiceField(
        label=gettext_lazy("Trend by"),
        required=False,
        choices=[
            ("", gettext_lazy("Automatic")),
            ("day", gettext_lazy("Day")),
            ("week", gettext_lazy("Week")),
            ("month", gettext_lazy("Month")),
        ],
    )
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions: Any = (
            Region.objects.restrict(user)
            .filter(level__in=[Level.COUNTY, Level.STREET, Level.COMMUNITY], valid_to__isnull=True)
            .order_by("path")
            .values_list("path", "name", "level")
        )
        indent = {Level.COUNTY: "", Level.STREET: "　", Level.COMMUNITY: "　　"}
        self.fields["region"].choices = [  # type: ignore[attr-defined]
            ("", _("All in my scope")),
            *((path, f"{indent.get(level, '')}{name}") for path, name, level in regions),
        ]
        categories = category_selectors.visible_categories(user).order_by("sort_order", "code")
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", _("All categories")),
            *((str(pk), name) for pk, name in categories.values_list("pk", "name")),
        ]
        self.fields["kind"].choices = [("", _("All kinds")), *CaseKind.choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("preset") == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                raise forms.ValidationError(_("Give both dates, or choose one of the periods."))
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date; swap them."))
            if (end - start).days > MAX_DAYS:
                raise forms.ValidationError(_("Choose at most three years at a time."))
        return data

    def full_clean(self) -> None:
        # dates given without a period choice mean "these dates"
        if self.is_bound and not self.data.get("preset") and self.data.get("start") and self.data.get("end"):
            self.data = (
                {**self.data.dict(), "preset": "custom"}
                if hasattr(self.data, "dict")
                else {
                    **self.data,
                    "preset": "custom",
                }
            )
        super().full_clean()

    def params(self, today: datetime.date) -> FigureParams:
        data: dict[str, Any] = {}
        if self.is_bound:
            self.is_valid()
            data = self.cleaned_data  # the fields that are valid; a refused filter is left out
        preset = data.get("preset") or "this_year"
        if preset == "custom" and not self.non_field_errors() and data.get("start") and data.get("end"):
            start, end = data["start"], data["end"]
        else:
            start, end = preset_range(preset if preset != "custom" else "this_year", today)
        period = data.get("period") or figures.auto_period(start, end)
        category = data.get("category")
        return FigureParams(
            start=start,
            end=end,
            period=period,
            region=data.get("region") or "",
            category_id=int(category) if category else None,
            kind=data.get("kind") or "",
        )


def _require(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _display(row: Row) -> dict[str, Any]:
    return {
        "label": row.label,
        "key": row.key,
        "received": row.received,
        "accepted": row.accepted,
        "completed": row.completed,
        "completion_rate": pct(row.completion_rate),
        "on_time_rate": pct(row.on_time_rate),
        "open_overdue": row.open_overdue,
        "satisfaction_rate": pct(row.satisfaction_rate),
        "dispute_resolution_rate": pct(row.dispute_resolution_rate),
        "avg_hours": num(row.avg_hours),
        "avg_workdays": num(row.avg_workdays),
        "first_response_rate": pct(row.first_response_rate),
    }


def _buckets(params: FigureParams) -> list[datetime.date]:
    """Every day / week (Monday) / month of the period, for a continuous trend chart."""
    if params.period == "month":
        return figures.months_between(params.start, params.end)
    step = 7 if params.period == "week" else 1
    day = params.start - datetime.timedelta(days=params.start.weekday()) if step == 7 else params.start
    days: list[datetime.date] = []
    while day <= params.end and len(days) < 2000:
        days.append(day)
        day += datetime.timedelta(days=step)
    return days


def _charts(result: FigureSet) -> dict[str, Any]:
    rows = {r.key: r for r in result.groups.get("period", [])}
    trend = [
        rows.get(day) or Row(key=day, label=figures.period_label(day, result.params.period))
        for day in _buckets(result.params)
    ]
    streets = result.groups.get("street", [])
    categories = result.groups.get("category", [])
    return {
        "trend": {
            "labels": [r.label for r in trend],
            "accepted": [r.accepted for r in trend],
            "completed": [r.completed for r in trend],
            "names": [_("Accepted"), _("Completed")],
        },
        "streets": {
            "labels": [r.label for r in streets],
            "accepted": [r.accepted for r in streets],
            "completed": [r.completed for r in streets],
            "names": [_("Accepted"), _("Completed")],
        },
        "categories": [{"name": r.label, "value": r.received} for r in categories if r.received],
    }


def _compute(request: HttpRequest) -> tuple[FiguresFilterForm, FigureSet]:
    form = FiguresFilterForm(request.GET or None, user=request.user)
    params = form.params(timezone.localdate())
    if not form.is_bound or not (form.data.get("start") and form.data.get("end")):
        # show the dates of the chosen period in the date inputs
        form.fields["start"].widget.attrs["value"] = params.start.isoformat()
        form.fields["end"].widget.attrs["value"] = params.end.isoformat()
    return form, figures.figures(request.user, params)


@login_required
@require_GET
def figures_page(request: HttpRequest) -> HttpResponse:
    _require(request)
    form, result = _compute(request)
    total = result.total
    context = {
        "form": form,
        "params": result.params,
        "total": total,
        "t": _display(total),
        "tables": [
            {"key": key, "title": GROUP_TITLES[key], "rows": [_display(r) for r in rows]}
            for key, rows in result.groups.items()
        ],
        "charts": _charts(result),
        "query": request.GET.urlencode(),
    }
    return render(request, "cases/figures/figures.html", context)


def _headers() -> list[str]:
    return [
        _("Name"),
        _("Received"),
        _("Accepted"),
        _("Completed"),
        _("Completion rate (%)"),
        _("On-time rate (%)"),
        _("Open and overdue"),
        _("Satisfaction rate (%)"),
        _("Dispute resolution rate (%)"),
        _("Average handling time (hours)"),
        _("Average handling time (working days)"),
        _("First response on time (%)"),
    ]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _cells(row: Row) -> list[Any]:
    return [
        row.label,
        row.received,
        row.accepted,
        row.completed,
        _percent(row.completion_rate),
        _percent(row.on_time_rate),
        row.open_overdue,
        _percent(row.satisfaction_rate),
        _percent(row.dispute_resolution_rate),
        None if row.avg_hours is None else round(row.avg_hours, 1),
        None if row.avg_workdays is None else round(row.avg_workdays, 2),
        _percent(row.first_response_rate),
    ]


def _sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    safe = "".join("·" if ch in "[]:*?/\\" else ch for ch in title)[:31]
    ws = wb.create_sheet(title=safe)
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))


@login_required
@require_GET
def figures_export(request: HttpRequest) -> FileResponse:
    """One workbook: the filters and totals, then one sheet per table of the page."""
    _require(request)
    form, result = _compute(request)
    params = result.params
    record(
        "cases.figures.export",
        actor=request.user,
        category=AuditCategory.ACCESS,
        detail={
            "start": params.start.isoformat(),
            "end": params.end.isoformat(),
            "region": params.region,
            "category": params.category_id,
            "kind": params.kind,
        },
    )
    wb = Workbook(write_only=True)
    summary = [
        [_("From"), params.start.isoformat()],
        [_("To"), params.end.isoformat()],
        [_("Region"), dict(form.fields["region"].choices).get(params.region, "").strip()],  # type: ignore[attr-defined]
        [_("Category"), dict(form.fields["category"].choices).get(str(params.category_id or ""), "")],  # type: ignore[attr-defined]
        [_("Kind"), dict(form.fields["kind"].choices).get(params.kind, "")],  # type: ignore[attr-defined]
        [_("Counted"), _("Cases received in the period, within your data scope")],
        [],
        *[[h, v] for h, v in zip(_headers()[1:], _cells(result.total)[1:], strict=True)],
    ]
    _sheet(wb, _("Summary"), [_("Figure"), _("Value")], summary)
    for key, rows in result.groups.items():
        _sheet(wb, str(SHEET_TITLES[key]), _headers(), [_cells(r) for r in rows])
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
    wb.save(tmp)
    tmp.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(tmp, as_attachment=True, filename=f"figures-{stamp}.xlsx", content_type=XLSX_CONTENT_TYPE)
