"""Forms of the unit pages: they only parse; the services hold the rules."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fengqiao.regions.models import Region

from .models import GridRole, Unit, UnitKind


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class RegionCodeField(forms.CharField):
    """A region typed as its code, looked up among the regions the user may use."""

    def __init__(self, *, queryset: QuerySet[Region] | None = None, **kwargs: Any) -> None:
        self.queryset = queryset if queryset is not None else Region.objects.none()
        kwargs.setdefault("max_length", 15)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Region):
            return value.code
        return super().prepare_value(value)

    def clean(self, value: Any) -> Region | None:
        code = str(super().clean(value) or "").strip()
        if not code:
            return None
        region = self.queryset.filter(code=code).first()
        if region is None:
            raise ValidationError(
                _("There is no current region with the code %(code)s that you may use here."), params={"code": code}
            )
        return region


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} · {obj.region_path}"


class UnitForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(label=_("Unit code"), max_length=32)
    kind = forms.ChoiceField(label=_("Kind"), choices=UnitKind.choices)
    region = RegionCodeField(
        label=_("Region code"),
        help_text=_("The 12-digit code of the district, street or community the unit belongs to."),
    )
    parent = UnitChoiceField(label=_("Parent unit"), queryset=Unit.objects.none(), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)

    def __init__(self, *args: Any, regions: QuerySet[Region], parents: QuerySet[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region_field = cast(RegionCodeField, self.fields["region"])
        region_field.queryset = regions
        parent_field = cast(UnitChoiceField, self.fields["parent"])
        parent_field.queryset = parents


class GridChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.code})"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} · {obj.unit}" if obj.unit_id else str(obj)


class AssignmentForm(forms.Form):
    grid = GridChoiceField(label=_("Grid"), queryset=Region.objects.none())
    user = PersonChoiceField(label=_("Person"), queryset=Unit.objects.none())
    role = forms.ChoiceField(label=_("Responsibility"), choices=GridRole.choices)
    valid_from = forms.DateField(
        label=_("From"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, grids: QuerySet[Region], people: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid_field = cast(GridChoiceField, self.fields["grid"])
        user_field = cast(PersonChoiceField, self.fields["user"])
        grid_field.queryset = grids
        user_field.queryset = people


class EndAssignmentForm(forms.Form):
    valid_to = forms.DateField(label=_("End on"), initial=timezone.localdate)
