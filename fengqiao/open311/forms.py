from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ClientForm(forms.Form):
    name = forms.CharField(label=_("Client system"), max_length=100)
    contact = forms.CharField(
        label=_("Contact"), max_length=200, required=False, help_text=_("Who runs the client system")
    )
    requests_per_minute = forms.IntegerField(
        label=_("Requests per minute"),
        min_value=0,
        max_value=100_000,
        initial=60,
        help_text=_("Rate limit for this key; 0 means no limit"),
    )
