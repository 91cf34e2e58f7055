"""Forms of the webhook pages (input parsing only; the rules are in ``services``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import DeliveryStatus, EventType
from .services import regions_in_scope


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("The receiving platform, e.g. the city's big-data bureau")
    )
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=500,
        help_text=_("http:// or https:// address that accepts POST requests with a JSON body"),
        widget=forms.URLInput(attrs={"placeholder": "https://platform.example.gov.cn/webhooks/fengqiao"}),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    region = forms.ChoiceField(label=_("Region"), help_text=_("Only cases in this region and below are sent"))
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args: Any, user: Any, action: str = "add", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the regions governed here (a centre or department sits there), district to community
        regions = (
            regions_in_scope(user, action)
            .filter(level__gte=3, level__lte=5, units__isnull=False)
            .distinct()
            .order_by("path")
        )
        choices = [(str(pk), f"{name} ({code})") for pk, name, code in regions.values_list("pk", "name", "code")[:500]]
        self.fields["region"].choices = [("", _("Choose a region")), *choices]  # type: ignore[attr-defined]
        self._regions = regions

    def region_obj(self) -> Any:
        value = self.cleaned_data.get("region")
        return self._regions.filter(pk=int(value)).first() if value else None


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *DeliveryStatus.choices])
    event_type = forms.ChoiceField(
        label=_("Event"),
        required=False,
        choices=[("", _("All")), *EventType.choices, ("webhook.ping", _("Test event"))],
    )


class ResumeForm(forms.Form):
    send_held = forms.BooleanField(label=_("Also send the events held while paused"), required=False, initial=True)
