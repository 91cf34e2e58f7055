"""Pages for system parameters and dictionaries (global configuration: model permissions, a shared scope)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.services import record
from fengqiao.core.excel import excel_response

from . import selectors, services
from .forms import (
    DictionaryEditForm,
    DictionaryForm,
    FilterForm,
    ItemEditForm,
    ItemForm,
    ParameterCreateForm,
    ParameterEditForm,
    apply_errors,
)
from .models import Dictionary, DictionaryItem, Parameter, ParameterType

PAGE_SIZE = 25


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _perms(request: HttpRequest, model: str) -> dict[str, bool]:
    user = request.user
    return {action: user.has_perm(f"system.{action}_{model}") for action in ("add", "change", "delete")}


def _display(parameter: Parameter) -> str:
    if parameter.value_type == ParameterType.BOOLEAN:
        return _("Yes") if parameter.value else _("No")
    return services.format_value(parameter.value_type, parameter.value)


# --- parameters ---------------------------------------------------------------------


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    if request.user.has_perm("system.view_parameter"):
        return redirect("system:parameters")
    if request.user.has_perm("system.view_dictionary"):
        return redirect("system:dictionaries")
    raise PermissionDenied


@login_required
@require_GET
def parameter_list(request: HttpRequest) -> HttpResponse:
    _require(request, "system.view_parameter")
    form = FilterForm(request.GET or None)
    qs = selectors.parameter_list(request.user, **form.filters())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": [{"p": p, "display": _display(p)} for p in page.object_list],
        "perms_": _perms(request, "parameter"),
    }
    template = "system/_parameter_results.html" if _htmx(request) else "system/parameter_list.html"
    return render(request, template, context)


@login_required
@require_GET
def parameter_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "system.view_parameter")
    filters = FilterForm(request.GET or None).filters()
    qs = selectors.parameter_list(request.user, **filters)
    record("system.parameter.export", actor=request.user, detail={"filters": filters, "rows": qs.count()})
    headers = [_("Key"), _("Name"), _("Type"), _("Value"), _("Description"), _("Last changed")]

    def rows() -> Iterator[list[Any]]:
        for p in qs:
            yield [p.key, p.name, p.get_value_type_display(), _display(p), p.description, p.updated_at]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"parameters-{stamp}", headers, rows(), title=_("System parameters"))


@login_required
@require_http_methods(["GET", "POST"])
def parameter_create(request: HttpRequest) -> HttpResponse:
    _require(request, "system.add_parameter")
    form = ParameterCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            parameter = services.create_parameter(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Parameter “%(key)s” created.") % {"key": parameter.key})
            return redirect("system:parameters")
    return render(request, "system/parameter_form.html", {"form": form})


def _parameter_row(request: HttpRequest, parameter: Parameter, form: ParameterEditForm | None = None) -> HttpResponse:
    context = {"p": parameter, "display": _display(parameter), "perms_": _perms(request, "parameter"), "form": form}
    return render(request, "system/_parameter_row.html", context)


@login_required
@require_GET
def parameter_row(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the read-only row (after "Cancel")."""
    _require(request, "system.view_parameter")
    return _parameter_row(request, get_object_or_404(selectors.parameters(request.user), pk=pk))


@login_required
@require_http_methods(["GET", "POST"])
def parameter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Inline edit with htmx (the row becomes a form), or a plain page without JavaScript."""
    _require(request, "system.change_parameter")
    parameter = get_object_or_404(selectors.parameters(request.user, "change"), pk=pk)
    initial = {
        "name": parameter.name,
        "description": parameter.description,
        "value": services.format_value(parameter.value_type, parameter.value),
    }
    form = ParameterEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            parameter = services.update_parameter(parameter, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if _htmx(request):
                return _parameter_row(request, parameter)
            messages.success(request, _("Parameter “%(key)s” saved.") % {"key": parameter.key})
            return redirect("system:parameters")
    if _htmx(request):
        return _parameter_row(request, parameter, form)
    return render(request, "system/parameter_form.html", {"form": form, "parameter": parameter})


@login_required
@require_POST
def parameter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.delete_parameter")
    parameter = get_object_or_404(selectors.parameters(request.user, "delete"), pk=pk)
    services.delete_parameter(parameter, actor=request.user)
    if _htmx(request):
        return HttpResponse("")
    messages.success(request, _("Parameter “%(key)s” deleted.") % {"key": parameter.key})
    return redirect("system:parameters")


# --- dictionaries --------------------------------------------------------------------


@login_required
@require_GET
def dictionary_list(request: HttpRequest) -> HttpResponse:
    _require(request, "system.view_dictionary")
    form = FilterForm(request.GET or None)
    q = form.filters().get("q", "")
    page = Paginator(selectors.dictionary_list(request.user, q), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "perms_": _perms(request, "dictionary")}
    template = "system/_dictionary_results.html" if _htmx(request) else "system/dictionary_list.html"
    return render(request, template, context)


def _item_rows(dictionaries: Any) -> Iterator[list[Any]]:
    for d in dictionaries:
        for item in d.items.all():
            yield [
                d.code,
                d.name,
                item.value,
                item.label,
                item.label_en,
                item.sort_order,
                _("Yes") if item.is_active else _("No"),
            ]


_ITEM_HEADERS = (
    gettext_noop("Dictionary code"),
    gettext_noop("Dictionary"),
    gettext_noop("Value"),
    gettext_noop("Label"),
    gettext_noop("English label"),
    gettext_noop("Order"),
    gettext_noop("Active"),
)


@login_required
@require_GET
def dictionary_export(request: HttpRequest) -> HttpResponseBase:
    """Every item of the dictionaries matching the filter (or of one dictionary with ``?id=``)."""
    _require(request, "system.view_dictionary")
    q = FilterForm(request.GET or None).filters().get("q", "")
    qs = selectors.dictionary_list(request.user, q).prefetch_related("items")
    one = request.GET.get("id", "")
    if one:
        qs = qs.filter(pk=int(one)) if one.isdigit() else qs.none()
    record("system.dictionary.export", actor=request.user, detail={"q": q, "id": one, "dictionaries": qs.count()})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(
        f"dictionaries-{stamp}", [_(h) for h in _ITEM_HEADERS], _item_rows(qs), title=_("Dictionaries")
    )


@login_required
@require_http_methods(["GET", "POST"])
def dictionary_create(request: HttpRequest) -> HttpResponse:
    _require(request, "system.add_dictionary")
    form = DictionaryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dictionary = services.create_dictionary(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("Dictionary “%(name)s” created; now add its items.") % {"name": dictionary.name}
            )
            return redirect("system:dictionary_detail", pk=dictionary.pk)
    return render(request, "system/dictionary_form.html", {"form": form})


def _detail_context(request: HttpRequest, dictionary: Dictionary, item_form: ItemForm | None = None) -> dict[str, Any]:
    return {
        "dictionary": dictionary,
        "items": list(dictionary.items.order_by("sort_order", "value")),
        "item_form": item_form or ItemForm(initial={"is_active": True, "sort_order": _next_order(dictionary)}),
        "perms_": _perms(request, "dictionary"),
    }


def _next_order(dictionary: Dictionary) -> int:
    last = dictionary.items.order_by("-sort_order").values_list("sort_order", flat=True).first()
    return (last or 0) + 10


@login_required
@require_GET
def dictionary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.view_dictionary")
    dictionary = get_object_or_404(selectors.dictionaries(request.user), pk=pk)
    return render(request, "system/dictionary_detail.html", _detail_context(request, dictionary))


@login_required
@require_http_methods(["GET", "POST"])
def dictionary_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.change_dictionary")
    dictionary = get_object_or_404(selectors.dictionaries(request.user, "change"), pk=pk)
    form = DictionaryEditForm(
        request.POST or None, initial={"name": dictionary.name, "description": dictionary.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_dictionary(dictionary, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Dictionary saved."))
            return redirect("system:dictionary_detail", pk=dictionary.pk)
    return render(request, "system/dictionary_form.html", {"form": form, "dictionary": dictionary})


@login_required
@require_POST
def dictionary_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.delete_dictionary")
    dictionary = get_object_or_404(selectors.dictionaries(request.user, "delete"), pk=pk)
    services.delete_dictionary(dictionary, actor=request.user)
    messages.success(request, _("Dictionary “%(name)s” deleted.") % {"name": dictionary.name})
    return redirect("system:dictionaries")


@login_required
@require_POST
def item_create(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.change_dictionary")
    dictionary = get_object_or_404(selectors.dictionaries(request.user, "change"), pk=pk)
    form = ItemForm(request.POST)
    created = False
    if form.is_valid():
        try:
            services.create_item(dictionary, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            created = True
    if not _htmx(request):
        if created:
            messages.success(request, _("Item added."))
            return redirect("system:dictionary_detail", pk=dictionary.pk)
        return render(request, "system/dictionary_detail.html", _detail_context(request, dictionary, form), status=400)
    context = _detail_context(request, dictionary, None if created else form)
    return render(request, "system/_items.html", context)


def _item_row(request: HttpRequest, item: DictionaryItem, form: ItemEditForm | None = None) -> HttpResponse:
    context = {"item": item, "form": form, "perms_": _perms(request, "dictionary")}
    return render(request, "system/_item_row.html", context)


@login_required
@require_GET
def item_row(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.view_dictionary")
    return _item_row(request, get_object_or_404(selectors.visible_items(request.user), pk=pk))


@login_required
@require_http_methods(["GET", "POST"])
def item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.change_dictionary")
    item = get_object_or_404(selectors.visible_items(request.user, "change").select_related("dictionary"), pk=pk)
    initial = {
        "label": item.label,
        "label_en": item.label_en,
        "sort_order": item.sort_order,
        "is_active": item.is_active,
    }
    form = ItemEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.update_item(item, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if _htmx(request):
                return _item_row(request, item)
            messages.success(request, _("Item saved."))
            return redirect("system:dictionary_detail", pk=item.dictionary_id)
    if _htmx(request):
        return _item_row(request, item, form)
    return render(request, "system/item_form.html", {"form": form, "item": item})


@login_required
@require_POST
def item_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "system.change_dictionary")
    item = get_object_or_404(selectors.visible_items(request.user, "change"), pk=pk)
    dictionary_id = item.dictionary_id
    services.delete_item(item, actor=request.user)
    if _htmx(request):
        return HttpResponse("")
    messages.success(request, _("Item deleted."))
    return redirect(reverse("system:dictionary_detail", args=[dictionary_id]))
