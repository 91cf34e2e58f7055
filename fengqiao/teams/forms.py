"""Forms of the team pages: they only parse; the services hold the rules."""

from __future__ import annotations

import datetime
import json
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fengqiao.regions.models import Region

from .models import TEAM_KINDS, TeamMember, TeamRole
from .selectors import GROUPS


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} · {obj.unit}" if getattr(obj, "unit_id", None) else str(obj)


class MemberForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    role = forms.ChoiceField(label=_("Role in the team"), choices=TeamRole.choices, initial=TeamRole.MEMBER)
    since = forms.DateField(
        label=_("Member since"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(label=_("Member until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    skills = forms.CharField(
        label=_("Skills"),
        max_length=200,
        required=False,
        help_text=_("e.g. family disputes, law, first aid, Hui language"),
    )
    user = PersonChoiceField(
        label=_("Staff account"),
        queryset=TeamMember.objects.none(),
        required=False,
        help_text=_("If the member works on the platform (then cases of the team can be given to them)."),
    )
    resident_id_number = forms.CharField(
        label=_("Resident's ID number"),
        max_length=18,
        required=False,
        help_text=_("Links the member to their entry in the registry (optional)."),
    )

    def __init__(self, *args: Any, people: QuerySet[Any], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(PersonChoiceField, self.fields["user"]).queryset = people
        if editing:
            # the stored name and phone are never shown in clear: blank keeps them
            for name in ("name", "phone"):
                self.fields[name].required = False
                self.fields[name].help_text = _("Leave blank to keep the stored value (shown masked above).")


class EndMemberForm(forms.Form):
    until = forms.DateField(
        label=_("Last day"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )


class GridChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class MemberChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name_masked} · {obj.get_role_display()}"


class PatrolForm(forms.Form):
    started_at = forms.DateTimeField(
        label=_("Started"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    ended_at = forms.DateTimeField(
        label=_("Ended"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    participants = MemberChoices(
        label=_("Members who took part"), queryset=TeamMember.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    grids = GridChoices(
        label=_("Grids patrolled"), queryset=Region.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    findings = forms.CharField(
        label=_("Findings"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was found; each finding can then be reported as a case."),
    )
    route = forms.CharField(
        label=_("Route (GeoJSON, optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_('A GeoJSON LineString or MultiPoint, e.g. {"type": "LineString", "coordinates": [[lng, lat], …]}'),
    )

    def __init__(self, *args: Any, members: QuerySet[TeamMember], grids: QuerySet[Region], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(MemberChoices, self.fields["participants"]).queryset = members
        cast(GridChoices, self.fields["grids"]).queryset = grids

    def clean_route(self) -> Any:
        text = (self.cleaned_data.get("route") or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValidationError(_("The route is not valid JSON.")) from exc


class FindingForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=TeamMember.objects.none())
    description = forms.CharField(label=_("What was found"), widget=forms.Textarea(attrs={"rows": 3}))
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    lng = forms.FloatField(label=_("Longitude"), required=False)
    lat = forms.FloatField(label=_("Latitude"), required=False)

    def __init__(self, *args: Any, categories: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = categories
        # the chosen category's extra fields (e.g. the kind of hazard); the case service checks them
        from fengqiao.cases.forms import build_extra_field, extra_field_definitions

        raw = str(self.data.get("category", "")) if self.is_bound else ""
        chosen = categories.filter(pk=int(raw)).first() if raw.isdigit() else None
        for definition in extra_field_definitions(chosen):
            field = build_extra_field(definition)
            field.required = False
            self.fields[f"extra_{definition['code']}"] = field

    @property
    def extra_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith("extra_")]

    def extra(self) -> dict[str, Any]:
        from fengqiao.cases.forms import extra_value

        values = {}
        for name in self.extra_field_names:
            value = self.cleaned_data.get(name)
            if value not in (None, "", []):
                values[name.removeprefix("extra_")] = extra_value(value)
        return values


def default_period(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    today = today or timezone.localdate()
    return today.replace(month=1, day=1), today


class RateForm(forms.Form):
    group = forms.ChoiceField(
        label=_("Per"),
        choices=[("team", _("Team")), ("street", _("Street / town")), ("community", _("Community / village"))],
        required=False,
    )
    start = forms.DateField(label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Received until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind of team"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            ("", _("All teams")),
            *[(k.value, k.label) for k in TEAM_KINDS],
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = default_period()
        data["start"] = data.get("start") or start
        data["end"] = data.get("end") or end
        if data["end"] < data["start"]:
            self.add_error("end", _("The end of the period cannot be before its start."))
        elif (data["end"] - data["start"]).days > 366 * 5:
            self.add_error("end", _("Choose a period of at most five years."))
        data["group"] = data.get("group") if data.get("group") in GROUPS else "team"
        return data
