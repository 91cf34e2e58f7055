"""Forms of the grid app: the phone visit form (with the assessment) and the model editor."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fengqiao.registry.models import Household, Resident

from . import scoring
from .models import AssessmentModel
from .services import factor_label


class VisitForm(forms.Form):
    household = forms.ModelChoiceField(
        label=_("Household"), queryset=Household.objects.none(), empty_label=_("Choose the household")
    )
    resident = forms.ModelChoiceField(
        label=_("Person met (optional)"), queryset=Resident.objects.none(), required=False, empty_label="—"
    )
    visited_at = forms.DateTimeField(
        label=_("Time of the visit"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=_("Leave as it is for a visit now."),
    )
    lng = forms.FloatField(required=False, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput)
    notes = forms.CharField(
        label=_("What you found"), required=False, widget=forms.Textarea(attrs={"rows": 4, "maxlength": 4000})
    )

    def __init__(
        self,
        *args: Any,
        households: QuerySet[Household],
        members: QuerySet[Resident] | None = None,
        model: AssessmentModel,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households  # type: ignore[attr-defined]
        self.fields["resident"].queryset = members if members is not None else Resident.objects.none()  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial.setdefault("visited_at", timezone.localtime().replace(second=0, microsecond=0))
        self.spec = model.spec()
        for factor in self.spec.factors:
            self.fields[f"factor_{factor.code}"] = forms.ChoiceField(
                label=factor_label(factor),
                required=False,
                choices=[("", _("Not assessed"))] + [(lv.key, factor_label(lv)) for lv in factor.levels],
                widget=forms.RadioSelect,
            )
            self.fields[f"factor_{factor.code}"].factor_required = factor.required  # type: ignore[attr-defined]

    def factor_fields(self) -> list[forms.BoundField]:
        return [self[f"factor_{f.code}"] for f in self.spec.factors]

    def answers(self) -> dict[str, str]:
        return {f.code: self.cleaned_data.get(f"factor_{f.code}") or "" for f in self.spec.factors}

    def clean_visited_at(self) -> datetime.datetime | None:
        value: datetime.datetime | None = self.cleaned_data.get("visited_at")
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value


def level_lines(factor: dict[str, Any]) -> str:
    """A factor's levels as the editor's text: one ``code | 名称 | English | points`` a line."""
    return "\n".join(
        f"{lv['key']} | {lv.get('label', '')} | {lv.get('label_en', '')} | {lv.get('score', 0):g}"
        for lv in factor.get("levels", [])
    )


def parse_levels(text: str) -> list[dict[str, Any]]:
    levels = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        key, points = parts[0], parts[-1] if len(parts) > 1 else ""
        label = parts[1] if len(parts) > 2 else ""
        label_en = parts[2] if len(parts) > 3 else ""
        levels.append({"key": key, "label": label, "label_en": label_en, "score": points})
    return levels


def model_from_post(data: Any) -> dict[str, Any]:
    """The editor's POST as the arguments of ``services.save_model_version`` (validated there)."""
    count = int(data.get("factor_count") or 0) if str(data.get("factor_count") or "0").isdigit() else 0
    factors = []
    for i in range(min(count, 40)):
        code = str(data.get(f"f{i}-code") or "").strip()
        if not code and not str(data.get(f"f{i}-label") or "").strip():
            continue  # an empty row (or one cleared to remove the factor)
        factors.append(
            {
                "code": code,
                "label": str(data.get(f"f{i}-label") or "").strip(),
                "label_en": str(data.get(f"f{i}-label_en") or "").strip(),
                "weight": str(data.get(f"f{i}-weight") or "").strip(),
                "required": data.get(f"f{i}-required") == "on",
                "levels": parse_levels(str(data.get(f"f{i}-levels") or "")),
            }
        )
    return {
        "factors": factors,
        "thresholds": {t: data.get(f"threshold_{t}") for t in (scoring.RED, scoring.ORANGE, scoring.YELLOW)},
        "follow_up_days": {t: data.get(f"days_{t}") for t in scoring.TIERS},
        "case_category_code": str(data.get("case_category_code") or ""),
        "note": str(data.get("note") or ""),
    }
