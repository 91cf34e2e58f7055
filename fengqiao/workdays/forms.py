from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DayForm(forms.Form):
    is_workday = forms.TypedChoiceField(
        label=_("This day is"),
        choices=[("1", _("a working day")), ("0", _("a day off"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose whether this day is a working day or a day off.")},
    )
    name = forms.CharField(
        label=_("Holiday name"),
        required=False,
        max_length=100,
        help_text=_("For example 国庆节; for a make-up working day, the holiday it makes up for."),
        error_messages={"max_length": _("The name is too long: at most 100 characters.")},
    )


class YearForm(forms.Form):
    complete = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1", widget=forms.HiddenInput
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=200,
        error_messages={"max_length": _("The note is too long: at most 200 characters.")},
    )
