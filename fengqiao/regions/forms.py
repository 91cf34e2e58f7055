"""Forms of the region pages: they only parse; the services hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_BOUNDARY_BYTES = 5 * 1024 * 1024
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names (else on the form)."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            field = "boundary_text" if key == "boundary" else key
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class BoundaryFields(forms.Form):
    boundary_text = forms.CharField(
        label=_("Boundary (GeoJSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        help_text=_("A GeoJSON Polygon or MultiPolygon in longitude/latitude degrees (a Feature is accepted too)."),
    )
    boundary_file = forms.FileField(
        label=_("…or upload a GeoJSON file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".geojson,.json,application/geo+json,application/json"}),
    )

    def clean_boundary_file(self) -> Any:
        upload = self.cleaned_data.get("boundary_file")
        if upload and upload.size > MAX_BOUNDARY_BYTES:
            raise ValidationError(_("The boundary file is larger than 5 MB; simplify the polygon first."))
        return upload

    def boundary_value(self) -> Any:
        """The boundary the user gave (file first, then text), or None when neither was given."""
        upload = self.cleaned_data.get("boundary_file")
        if upload:
            return upload.read()
        text = (self.cleaned_data.get("boundary_text") or "").strip()
        return text or None


class RegionCreateForm(BoundaryFields):
    code = forms.CharField(label=_("Code"), max_length=15)
    name = forms.CharField(label=_("Name"), max_length=100)
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    field_order = ["code", "name", "valid_from", "boundary_text", "boundary_file"]


class RegionEditForm(BoundaryFields):
    name = forms.CharField(label=_("Name"), max_length=100)
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    successor_codes = forms.CharField(label=_("Successor codes"), max_length=200, required=False)
    clear_boundary = forms.BooleanField(label=_("Remove the boundary"), required=False)

    field_order = ["name", "valid_from", "successor_codes", "boundary_text", "boundary_file", "clear_boundary"]


class RetireForm(forms.Form):
    valid_to = forms.DateField(
        label=_("Retired from"),
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The first day on which the region no longer exists."),
    )
    successor_codes = forms.CharField(label=_("Successor codes"), max_length=200, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File (.xlsx or .geojson)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.geojson,.json"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".xlsx", ".geojson", ".json")):
            raise ValidationError(_("Upload an Excel workbook (.xlsx) or a GeoJSON file (.geojson or .json)."))
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 20 MB; split it into several files."))
        return upload

    @property
    def kind(self) -> str:
        return "xlsx" if self.cleaned_data["file"].name.lower().endswith(".xlsx") else "geojson"
