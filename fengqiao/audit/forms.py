"""Filter forms of the operation and login log pages (parsing only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .labels import LOGIN_ACTIONS, RESULT_LABELS, action_codes, action_label, object_type_choices


class EventFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    operator = forms.CharField(label=_("Operator"), required=False, max_length=150)
    action = forms.CharField(
        label=pgettext_lazy("audit log column", "Action"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"list": "action-names"}),  # suggestions: the readable names
    )
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    ip = forms.CharField(label=_("IP address"), required=False, max_length=45)
    result = forms.ChoiceField(label=_("Result"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", _("All types")), *object_type_choices()]  # type: ignore[attr-defined]
        self.fields["result"].choices = [("", _("All results")), *RESULT_LABELS.items()]  # type: ignore[attr-defined]

    def action_names(self) -> list[str]:
        """The readable names of every known action except logins (the operation log's suggestions)."""
        return sorted({action_label(code) for code in action_codes() if code not in LOGIN_ACTIONS})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date; swap them or pick another date."))
        return data

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (an invalid field is left out and shown as an error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "")}


class LoginFilterForm(EventFilterForm):
    action = forms.ChoiceField(label=_("Event"), required=False)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["object_type"]
        del self.fields["object_id"]
        self.fields["action"].choices = [  # type: ignore[attr-defined]
            ("", _("All events")),
            *((code, action_label(code)) for code in LOGIN_ACTIONS),
        ]
