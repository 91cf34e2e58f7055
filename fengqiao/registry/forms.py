"""Forms of the registry pages: they only parse; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.core.validators import validate_phone, validate_resident_id
from fengqiao.regions.models import Region

from . import selectors
from .models import Gender, Household, Resident, SpecialGroup


class GridChoiceField(forms.ModelChoiceField[Region]):
    def label_from_instance(self, obj: Region) -> str:
        parent = obj.parent.name if obj.parent is not None else ""
        return f"{parent} · {obj.name}" if parent else obj.name


def apply_errors(form: forms.Form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Put a service's field-keyed errors next to the form's fields (others on top)."""
    rename = rename or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, messages in exc.message_dict.items():
        name = rename.get(key, key)
        form.add_error(name if name in form.fields else None, messages)


class ResidentForm(forms.Form):
    grid = GridChoiceField(queryset=Region.objects.none(), label=_("Grid"), empty_label=_("— choose a grid —"))
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50, required=True)
    id_number = forms.CharField(
        label=_("ID number"),
        max_length=40,
        required=False,
        help_text=_("18 characters. Gender and date of birth are taken from it."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("Mobile (11 digits) or landline with area code, e.g. 010-12345678."),
    )
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    birth_date = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Only needed when there is no ID number."),
    )
    household_number = forms.CharField(
        label=_("Household number"),
        max_length=32,
        required=False,
        help_text=_("Optional: the number of the household this person belongs to."),
    )
    relation = forms.CharField(label=_("Relation to head of household"), max_length=20, required=False)

    def __init__(self, *args: Any, user: Any, perm: str, instance: Resident | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance = instance
        self.household: Household | None = None
        self.fields["grid"].queryset = selectors.grid_choices(user, perm)  # type: ignore[attr-defined]
        if instance is not None:
            # Personal fields are never shown decrypted here: empty means "keep".
            keep = _("Leave empty to keep the current value.")
            for name in ("name", "id_number", "phone"):
                field = self.fields[name]
                field.required = False
                field.widget.attrs["placeholder"] = getattr(instance, f"{name}_masked") or ""
                field.help_text = f"{keep} {field.help_text}".strip()
            self.fields["clear_phone"] = forms.BooleanField(label=_("Remove the phone number"), required=False)
        self.fields["id_number"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["phone"].widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})

    # The service validates again (and checks duplicates); checking here too
    # shows every problem at once, even when another field is missing.
    def clean_id_number(self) -> str:
        value: str = (self.cleaned_data.get("id_number") or "").strip()
        if value:
            validate_resident_id(value)
        return value

    def clean_phone(self) -> str:
        value: str = (self.cleaned_data.get("phone") or "").strip()
        if value:
            validate_phone(value)
        return value

    def clean_household_number(self) -> str:
        number = (self.cleaned_data.get("household_number") or "").strip()
        if number:
            self.household = Household.objects.restrict(self.user, "view").filter(number=number).first()
            if self.household is None:
                raise ValidationError(
                    _("No household with the number %(number)s in your area. Check the number or leave it empty."),
                    params={"number": number},
                )
        return number


class HouseholdForm(forms.Form):
    grid = GridChoiceField(queryset=Region.objects.none(), label=_("Grid"), empty_label=_("— choose a grid —"))
    number = forms.CharField(
        label=_("Household number"),
        max_length=32,
        required=False,
        help_text=_("Leave empty to get the next free number of the grid."),
    )
    address = forms.CharField(label=_("Address"), max_length=200)
    lng = forms.FloatField(label=_("Longitude"), required=False)
    lat = forms.FloatField(label=_("Latitude"), required=False)

    def __init__(self, *args: Any, user: Any, perm: str, instance: Household | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = selectors.grid_choices(user, perm)  # type: ignore[attr-defined]
        if instance is not None:
            del self.fields["number"]  # the number identifies the household; it is not edited


class MembershipForm(forms.Form):
    """Add a resident to a special group (``group`` is left out when editing an existing membership)."""

    group = forms.ModelChoiceField(
        queryset=SpecialGroup.objects.none(), label=_("Special group"), empty_label=_("— choose a group —")
    )
    since = forms.DateField(label=_("Since"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty while the person still belongs to the group."),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["group"]
        else:
            self.fields["group"].queryset = selectors.visible_groups(user).filter(is_active=True)  # type: ignore[attr-defined]
