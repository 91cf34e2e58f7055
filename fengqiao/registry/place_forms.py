"""Forms of the place and organisation pages: they only parse; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fengqiao.regions.models import Region

from . import selectors
from .forms import GridChoiceField
from .models import Organisation, OrganisationKind, Place, PlaceKind


class _Located(forms.Form):
    grid = GridChoiceField(queryset=Region.objects.none(), label=_("Grid"), empty_label=_("— choose a grid —"))
    name = forms.CharField(label=_("Name"), max_length=100)
    address = forms.CharField(label=_("Address"), max_length=200)
    lng = forms.FloatField(label=_("Longitude"), required=False)
    lat = forms.FloatField(
        label=_("Latitude"), required=False, help_text=_("Optional; must lie inside the chosen grid.")
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    personal: tuple[str, ...] = ()

    def __init__(self, *args: Any, user: Any, perm: str, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = selectors.grid_choices(user, perm)  # type: ignore[attr-defined]
        if instance is not None:
            keep = _("Leave empty to keep the current value.")
            for name in self.personal:
                field = self.fields[name]
                field.widget.attrs["placeholder"] = getattr(instance, f"{name}_masked") or ""
                field.help_text = keep
        for name in self.personal:
            self.fields[name].widget.attrs["autocomplete"] = "off"


class PlaceForm(_Located):
    kind = forms.ChoiceField(label=_("Kind"), choices=PlaceKind.choices)
    contact_name = forms.CharField(label=_("Contact person"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    landlord_id_number = forms.CharField(
        label=_("Landlord's ID number"),
        max_length=40,
        required=False,
        help_text=_("Rental housing: the landlord, a registered resident."),
    )
    tenant_id_numbers = forms.CharField(
        label=_("Tenants' ID numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Rental housing: one ID number per line, of registered residents."),
    )
    personal = ("contact_name", "contact_phone")
    field_order = ["kind", "name", "grid", "address", "lng", "lat", "contact_name", "contact_phone"]

    def __init__(self, *args: Any, instance: Place | None = None, **kwargs: Any) -> None:
        super().__init__(*args, instance=instance, **kwargs)
        if instance is not None:
            self.fields["landlord_id_number"].help_text = _(
                "Leave empty to keep the current landlord; write 0 to remove."
            )
            self.fields["tenant_id_numbers"].help_text = _(
                "Leave empty to keep the current tenants; write 0 to remove them all."
            )


class OrganisationForm(_Located):
    kind = forms.ChoiceField(label=_("Kind"), choices=OrganisationKind.choices)
    credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=30,
        required=False,
        help_text=_("18 characters (统一社会信用代码)."),
    )
    legal_representative = forms.CharField(label=_("Legal representative"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    employees = forms.IntegerField(label=_("Employees"), required=False, min_value=0)
    personal = ("legal_representative", "contact_phone")
    field_order = ["kind", "name", "credit_code", "grid", "address", "lng", "lat", "legal_representative"]

    def __init__(self, *args: Any, instance: Organisation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, instance=instance, **kwargs)
