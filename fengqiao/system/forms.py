"""Forms of the dictionary and parameter pages: they only parse; the services validate."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import ParameterType


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: field keys on their fields, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    value_type = forms.ChoiceField(label=_("Type"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value_type"].choices = [("", _("All types")), *ParameterType.choices]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class ParameterCreateForm(forms.Form):
    key = forms.CharField(label=_("Key"), max_length=100, help_text=_("Dotted, lower case, e.g. case.reminder_days"))
    name = forms.CharField(label=_("Name"), max_length=100)
    value_type = forms.ChoiceField(label=_("Type"), choices=ParameterType.choices)
    value = forms.CharField(
        label=_("Value"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Whole number: 10 · Number: 0.75 · Yes/no: true or false · JSON: [0.5, 0.8]"),
    )
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ParameterEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    value = forms.CharField(label=_("Value"), required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DictionaryForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=50, help_text=_("Lower case, e.g. case_type; fixed once created")
    )
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DictionaryEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ItemEditForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100)
    label_en = forms.CharField(label=_("English label"), max_length=100, required=False)
    sort_order = forms.CharField(label=_("Order"), required=False, max_length=10)
    is_active = forms.BooleanField(label=_("Active"), required=False)


class ItemForm(ItemEditForm):
    value = forms.CharField(label=_("Value"), max_length=50, help_text=_("Stored in records; fixed once created"))

    field_order = ["value", "label", "label_en", "sort_order", "is_active"]
