"""Pages of the category taxonomy: list (filters, paging, Excel), create and edit with the editors of
required extra fields (Open311 attribute shape) and response templates, delete.

Reads through ``fengqiao.cases.category_selectors`` (per district), writes through
``fengqiao.cases.category_services``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.models import Category as AuditCategory
from fengqiao.audit.services import record
from fengqiao.core.excel import excel_response
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import UnitKind

from . import category_selectors as selectors
from . import category_services as services
from .models import Case, CaseKind, Category, Complexity, HandlingLevel

PAGE_SIZE = 25

DATATYPE_CHOICES = [
    ("string", gettext_lazy("Short text")),
    ("text", gettext_lazy("Long text")),
    ("number", gettext_lazy("Number")),
    ("datetime", gettext_lazy("Date and time")),
    ("singlevaluelist", gettext_lazy("One choice from a list")),
    ("multivaluelist", gettext_lazy("Several choices from a list")),
]


def _require(request: HttpRequest, action: str) -> None:
    if not request.user.has_perm(f"cases.{action}_category"):
        raise PermissionDenied


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Field-keyed errors onto the form; the editors' own errors are shown in their sections (``_split``)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, msgs in exc.message_dict.items():
        if key not in ("extra_fields", "response_templates"):
            form.add_error(key if key in form.fields else None, msgs)


# --- forms ---------------------------------------------------------------------------


class CategoryFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    district = forms.ChoiceField(label=gettext_lazy("District"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    active = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("All")), ("1", gettext_lazy("Active")), ("0", gettext_lazy("Inactive"))],
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        districts = Region.objects.filter(level=Level.COUNTY, valid_to__isnull=True)
        if not selectors.sees_everything(user):
            districts = districts.filter(pk__in=selectors.visible_categories(user).values("district"))
        self.fields["district"].choices = [  # type: ignore[attr-defined]
            ("", _("All districts")),
            ("global", _("Platform-wide")),
            *((str(pk), name) for pk, name in districts.order_by("path").values_list("pk", "name")),
        ]
        self.fields["kind"].choices = [("", _("All kinds")), *CaseKind.choices]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class CategoryForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=50,
        help_text=gettext_lazy("Lower case, e.g. noise; used by the Open311 API as service_code; fixed once created"),
    )
    district = forms.ChoiceField(label=gettext_lazy("District"), required=False)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("English name"), max_length=100, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CaseKind.choices)
    default_complexity = forms.ChoiceField(
        label=gettext_lazy("Default complexity"),
        choices=Complexity.choices,
        help_text=gettext_lazy("Simple: 3 working days; general: 7; complex: set at triage"),
    )
    default_level = forms.ChoiceField(label=gettext_lazy("Default handling level"), choices=HandlingLevel.choices)
    default_unit_kind = forms.ChoiceField(label=gettext_lazy("Default kind of handling unit"), required=False)
    sort_order = forms.IntegerField(label=gettext_lazy("Order"), required=False, initial=0)
    is_public = forms.BooleanField(
        label=gettext_lazy("Residents may choose it on the report form"), required=False, initial=True
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, user: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = []
        if selectors.can_manage_global(user, "add"):
            choices.append(("", _("All districts (platform-wide)")))
        choices += [
            (str(pk), name) for pk, name in selectors.manageable_districts(user, "add").values_list("pk", "name")
        ]
        self.fields["district"].choices = choices  # type: ignore[attr-defined]
        self.fields["default_unit_kind"].choices = [("", _("(none)")), *UnitKind.choices]  # type: ignore[attr-defined]
        if editing:
            for name in ("code", "district"):
                self.fields[name].disabled = True
                self.fields[name].required = False

    def district_region(self) -> Region | None:
        value = self.cleaned_data.get("district")
        return Region.objects.filter(pk=int(value)).first() if value else None

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            key: data.get(key)
            for key in (
                "name",
                "name_en",
                "description",
                "kind",
                "default_complexity",
                "default_level",
                "default_unit_kind",
                "is_public",
                "is_active",
            )
        } | {"sort_order": data.get("sort_order") or 0}


def parse_values(text: str) -> list[dict[str, str]]:
    """One choice per line: "key=name", or just the name (then it is its own key)."""
    values = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, name = line.partition("=")
        if not sep:
            key, name = line, line
        values.append({"key": key.strip(), "name": name.strip()})
    return values


def format_values(values: list[dict[str, Any]] | None) -> str:
    lines = []
    for v in values or []:
        key, name = str(v.get("key", "")), str(v.get("name", ""))
        lines.append(key if key == name else f"{key}={name}")
    return "\n".join(lines)


class ExtraFieldForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=40, required=False)
    label = forms.CharField(label=gettext_lazy("Question"), max_length=100, required=False)
    label_en = forms.CharField(label=gettext_lazy("In English"), max_length=100, required=False)
    datatype = forms.ChoiceField(label=gettext_lazy("Type"), choices=DATATYPE_CHOICES, initial="string")
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)
    values = forms.CharField(
        label=gettext_lazy("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "noise=噪音扰民\nleak=漏水"}),
    )

    def as_item(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data or data.get("DELETE"):
            return None
        if not any(data.get(k) for k in ("code", "label", "label_en", "values")):
            return None  # an empty row
        return {
            "code": data.get("code", ""),
            "label": data.get("label", ""),
            "label_en": data.get("label_en", ""),
            "datatype": data.get("datatype") or "string",
            "required": bool(data.get("required")),
            "values": parse_values(data.get("values", "")),
        }


class TemplateForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100, required=False)
    text = forms.CharField(label=gettext_lazy("Reply text"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def as_item(self) -> dict[str, str] | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not (data.get("title") or data.get("text")):
            return None
        return {"title": data.get("title", ""), "text": data.get("text", "")}


ExtraFieldFormSet = forms.formset_factory(ExtraFieldForm, extra=1, can_delete=True, max_num=services.MAX_EXTRA_FIELDS)
TemplateFormSet = forms.formset_factory(TemplateForm, extra=1, can_delete=True, max_num=services.MAX_TEMPLATES)


def _initial_fields(category: Category) -> list[dict[str, Any]]:
    return [
        {
            "code": f.get("code", ""),
            "label": f.get("label", ""),
            "label_en": f.get("label_en", ""),
            "datatype": f.get("datatype", "string"),
            "required": bool(f.get("required")),
            "values": format_values(f.get("values")),
        }
        for f in (category.extra_fields or [])
        if isinstance(f, dict)
    ]


def _initial_templates(category: Category) -> list[dict[str, str]]:
    return [
        {"title": t.get("title", ""), "text": t.get("text", "")}
        for t in (category.response_templates or [])
        if isinstance(t, dict)
    ]


def _items(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    items = []
    for form in formset.forms:
        item = form.as_item() if form.is_valid() else None
        if item is not None:
            items.append(item)
    return items


# --- pages ---------------------------------------------------------------------------


@login_required
@require_GET
def category_list(request: HttpRequest) -> HttpResponse:
    _require(request, "view")
    form = CategoryFilterForm(request.GET or None, user=request.user)
    qs = selectors.category_list(request.user, form.filters())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    editable = set(
        selectors.editable_categories(request.user)
        .filter(pk__in=[c.pk for c in page.object_list])
        .values_list("pk", flat=True)
    )
    rows = [{"c": c, "editable": c.pk in editable, "fields": len(c.extra_fields or [])} for c in page.object_list]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "can_add": request.user.has_perm("cases.add_category")
        and (
            selectors.can_manage_global(request.user, "add")
            or selectors.manageable_districts(request.user, "add").exists()
        ),
        "query": request.GET.urlencode(),
    }
    return render(request, "cases/categories/list.html", context)


@login_required
@require_GET
def category_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "view")
    filters = CategoryFilterForm(request.GET or None, user=request.user).filters()
    qs = selectors.category_list(request.user, filters)
    record(
        "cases.category.export",
        actor=request.user,
        category=AuditCategory.ACCESS,
        detail={"filters": filters, "rows": qs.count()},
    )
    headers = [
        _("Code"),
        _("Name"),
        _("English name"),
        _("District"),
        _("Kind"),
        _("Default complexity"),
        _("Default handling level"),
        _("Default kind of handling unit"),
        _("Residents may choose it"),
        _("Active"),
        _("Order"),
        _("Extra fields"),
        _("Response templates"),
    ]
    yes, no = _("Yes"), _("No")
    unit_kinds = dict(UnitKind.choices)

    def rows() -> Iterator[list[Any]]:
        for c in qs:
            yield [
                c.code,
                c.name,
                c.name_en,
                c.district.name if c.district else _("Platform-wide"),
                c.get_kind_display(),
                c.get_default_complexity_display(),
                c.get_default_level_display(),
                str(unit_kinds.get(c.default_unit_kind, c.default_unit_kind)),
                yes if c.is_public else no,
                yes if c.is_active else no,
                c.sort_order,
                "; ".join(
                    f"{f.get('label')} ({f.get('code')}{', ' + _('required') if f.get('required') else ''})"
                    for f in c.extra_fields or []
                ),
                "; ".join(str(t.get("title", "")) for t in c.response_templates or []),
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"categories-{stamp}", headers, rows(), title=_("Categories"))


def _render_form(
    request: HttpRequest,
    form: CategoryForm,
    fields: forms.BaseFormSet,
    templates: forms.BaseFormSet,
    category: Category | None,
    field_errors: list[str] | None = None,
    template_errors: list[str] | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "fields_formset": fields,
        "templates_formset": templates,
        "category": category,
        "field_errors": field_errors or [],
        "template_errors": template_errors or [],
        "open_cases": Case.objects.open().filter(category=category).count() if category else 0,
        "can_delete": category is not None
        and request.user.has_perm("cases.delete_category")
        and not Case.objects.filter(category=category).exists()
        and selectors.editable_categories(request.user, "delete").filter(pk=category.pk).exists(),
    }
    return render(request, "cases/categories/form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def category_create(request: HttpRequest) -> HttpResponse:
    _require(request, "add")
    initial = {
        "kind": CaseKind.REPORT,
        "default_complexity": Complexity.GENERAL,
        "default_level": HandlingLevel.STREET,
        "sort_order": 0,
        "is_public": True,
        "is_active": True,
    }
    form = CategoryForm(request.POST or None, user=request.user, initial=initial)
    if not form.fields["district"].choices:  # type: ignore[attr-defined]
        raise PermissionDenied
    fields = ExtraFieldFormSet(request.POST or None, prefix="fields")
    templates = TemplateFormSet(request.POST or None, prefix="templates")
    field_errors: list[str] = []
    template_errors: list[str] = []
    if request.method == "POST":
        valid = form.is_valid() & fields.is_valid() & templates.is_valid()
        if valid:
            try:
                category = services.create_category(
                    actor=request.user,
                    code=form.cleaned_data["code"],
                    district=form.district_region(),
                    extra_fields=_items(fields),
                    response_templates=_items(templates),
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
                field_errors, template_errors = _split(exc)
            else:
                messages.success(request, _("Category “%(name)s” created.") % {"name": category.name})
                return redirect("case_categories:list")
        if not form.errors and not field_errors and not template_errors:
            form.add_error(None, _("Please check the highlighted rows."))
    return _render_form(request, form, fields, templates, None, field_errors, template_errors)


def _split(exc: ValidationError) -> tuple[list[str], list[str]]:
    if not hasattr(exc, "error_dict"):
        return [], []
    data = exc.message_dict
    return list(data.get("extra_fields", [])), list(data.get("response_templates", []))


@login_required
@require_http_methods(["GET", "POST"])
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "change")
    category = get_object_or_404(selectors.editable_categories(request.user).select_related("district"), pk=pk)
    initial = {
        "code": category.code,
        "district": str(category.district_id or ""),
        "name": category.name,
        "name_en": category.name_en,
        "description": category.description,
        "kind": category.kind,
        "default_complexity": category.default_complexity,
        "default_level": category.default_level,
        "default_unit_kind": category.default_unit_kind,
        "sort_order": category.sort_order,
        "is_public": category.is_public,
        "is_active": category.is_active,
    }
    form = CategoryForm(request.POST or None, user=request.user, editing=True, initial=initial)
    if category.district is not None:
        form.fields["district"].choices = [(str(category.district_id), category.district.name)]  # type: ignore[attr-defined]
    else:
        form.fields["district"].choices = [("", _("All districts (platform-wide)"))]  # type: ignore[attr-defined]
    fields = ExtraFieldFormSet(request.POST or None, prefix="fields", initial=_initial_fields(category))
    templates = TemplateFormSet(request.POST or None, prefix="templates", initial=_initial_templates(category))
    field_errors: list[str] = []
    template_errors: list[str] = []
    if request.method == "POST":
        valid = form.is_valid() & fields.is_valid() & templates.is_valid()
        if valid:
            old_complexity = category.default_complexity
            try:
                updated = services.update_category(
                    category,
                    actor=request.user,
                    extra_fields=_items(fields),
                    response_templates=_items(templates),
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
                field_errors, template_errors = _split(exc)
            else:
                text = _("Category “%(name)s” saved.") % {"name": updated.name}
                if updated.default_complexity != old_complexity:
                    text += " " + _("The deadlines of its open cases were recomputed.")
                messages.success(request, text)
                return redirect("case_categories:list")
        if not form.errors and not field_errors and not template_errors:
            form.add_error(None, _("Please check the highlighted rows."))
    return _render_form(request, form, fields, templates, category, field_errors, template_errors)


@login_required
@require_POST
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    category = get_object_or_404(selectors.editable_categories(request.user, "delete"), pk=pk)
    try:
        services.delete_category(category, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("case_categories:edit", pk=category.pk)
    messages.success(request, _("Category “%(name)s” deleted.") % {"name": category.name})
    return redirect("case_categories:list")
