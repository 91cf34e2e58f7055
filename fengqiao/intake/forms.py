"""Forms of the resident pages: the report form (with each category's extra fields), the
private link's actions and the look-up by number and phone.

Forms only parse and give field-level messages; ``fengqiao.cases.services`` decides.
Field names follow the service's error keys (``description``, ``reporter_phone``,
``location``…) so a ``ValidationError`` from the service lands next to the right field.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from fengqiao.cases.models import Category
from fengqiao.cases.services import MAX_DESCRIPTION, validate_upload
from fengqiao.core.validators import validate_phone
from fengqiao.system.selectors import get_parameter

from .selectors import category_label

MIN_DESCRIPTION = 5
MAX_NOTE = 2000
MAX_ADDRESS = 200
MAX_NAME = 50
_KEY_SALT = "fengqiao.intake.report"


# --- settings read at run time ---------------------------------------------------------------------


def max_photos() -> int:
    value: Any = get_parameter("intake.max_photos", 3)
    return int(value) if isinstance(value, int) and value > 0 else 3


def max_photo_mb() -> int:
    value: Any = get_parameter("intake.max_photo_mb", 10)
    return int(value) if isinstance(value, int) and value > 0 else 10


# --- idempotency key ---------------------------------------------------------------------------------


def new_idempotency_key() -> str:
    """A fresh key for one rendering of the report form, signed so a client cannot pick its own."""
    return signing.Signer(salt=_KEY_SALT).sign(secrets.token_urlsafe(24))


def unsign_idempotency_key(value: str) -> str | None:
    try:
        key = signing.Signer(salt=_KEY_SALT).unsign(value or "")
    except signing.BadSignature:
        return None
    return key if 16 <= len(key) <= 64 else None


# --- photos ------------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to ``intake.max_photos`` photos, each checked by content (``cases.services.validate_upload``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items: Sequence[Any] = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        files = [super(PhotosField, self).clean(item, initial) for item in items if item]
        limit = max_photos()
        errors: list[str] = []
        if len(files) > limit:
            errors.append(
                _("You chose %(n)d photos; at most %(max)d are allowed. Choose fewer photos.")
                % {"n": len(files), "max": limit}
            )
        for f in files:
            try:
                validate_upload(f)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files


def photos_help() -> str:
    return _("Up to %(n)d photos (JPEG, PNG, WebP or GIF), at most %(mb)d MB each.") % {
        "n": max_photos(),
        "mb": max_photo_mb(),
    }


# --- the report form ---------------------------------------------------------------------------------


def _localized(spec: dict[str, Any], key: str, en_key: str) -> str:
    if (get_language() or "").startswith("en") and spec.get(en_key):
        return str(spec[en_key])
    return str(spec.get(key) or "")


def extra_field_name(category: Category, code: str) -> str:
    return f"x{category.pk}_{code}"


def _extra_field(spec: dict[str, Any]) -> forms.Field:
    label = _localized(spec, "label", "label_en") or str(spec.get("code"))
    help_text = _localized(spec, "description", "description_en")
    datatype = spec.get("datatype", "string")
    choices = [(str(v.get("key")), _localized(v, "name", "name_en")) for v in spec.get("values", [])]
    common: dict[str, Any] = {"label": label, "required": False, "help_text": help_text}
    field: forms.Field
    if datatype == "number":
        field = forms.DecimalField(
            **common,
            max_digits=15,
            decimal_places=4,
            widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
        )
    elif datatype == "text":
        field = forms.CharField(**common, max_length=MAX_NOTE, widget=forms.Textarea(attrs={"rows": 3}))
    elif datatype == "datetime":
        field = forms.DateTimeField(
            **common,
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        )
    elif datatype == "singlevaluelist":
        field = forms.ChoiceField(**common, choices=[("", _("— choose —")), *choices])
    elif datatype == "multivaluelist":
        field = forms.MultipleChoiceField(**common, choices=choices, widget=forms.CheckboxSelectMultiple)
    else:
        field = forms.CharField(**common, max_length=200)
    field.widget.attrs.setdefault("data-required", "1" if spec.get("required") else "0")
    return field


class ReportForm(forms.Form):
    """One report. ``categories`` are those the community's residents may choose."""

    category = forms.TypedChoiceField(label=gettext_lazy("What is it about?"), coerce=int, widget=forms.RadioSelect)
    description = forms.CharField(
        label=gettext_lazy("Describe the problem"),
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": gettext_lazy("Describe the problem: what happened, where and since when.")},
    )
    photos = PhotosField(label=gettext_lazy("Photos (optional)"))
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    address = forms.CharField(
        label=gettext_lazy("Address or place"),
        max_length=MAX_ADDRESS,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    reporter_name = forms.CharField(
        label=gettext_lazy("Your name (optional)"),
        max_length=MAX_NAME,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    reporter_phone = forms.CharField(
        label=gettext_lazy("Your phone (optional)"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    anonymous = forms.BooleanField(label=gettext_lazy("Report anonymously"), required=False)

    def __init__(self, *args: Any, categories: Sequence[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = list(categories)
        self.by_pk = {c.pk: c for c in self.categories}
        category_field = cast(forms.ChoiceField, self.fields["category"])
        category_field.choices = [(c.pk, category_label(c)) for c in self.categories]
        self.fields["category"].error_messages["required"] = _("Choose what the problem is about.")
        self.fields["category"].error_messages["invalid_choice"] = _(
            "That category cannot be chosen here; choose one of the listed ones."
        )
        self.fields["description"].widget.attrs["maxlength"] = str(MAX_DESCRIPTION)
        self.fields["description"].error_messages["max_length"] = _(
            "The description is too long (%(show_value)d characters); shorten it to at most %(limit_value)d."
        )
        self.fields["photos"].help_text = photos_help()
        self.fields["lng"].error_messages["invalid"] = _("The map position was not understood; tap the map again.")
        self.fields["lat"].error_messages["invalid"] = _("The map position was not understood; tap the map again.")
        #: category pk → [(spec, field name)]
        self.extra_specs: dict[int, list[tuple[dict[str, Any], str]]] = {}
        # A sent form validates only the chosen category's extra fields, so only those are built
        # (the busiest request of the platform); the others are added if the page is shown again.
        chosen = self.data.get("category") if self.is_bound else None
        chosen_pk = int(chosen) if isinstance(chosen, str) and chosen.isdigit() else None
        self._all_extras = chosen_pk not in self.by_pk
        for category in self.categories:
            if self._all_extras or category.pk == chosen_pk:
                self._add_extra_fields(category)

    def _add_extra_fields(self, category: Category) -> None:
        for spec in category.extra_fields or []:
            if not isinstance(spec, dict) or not spec.get("code"):
                continue
            name = extra_field_name(category, str(spec["code"]))
            self.fields[name] = _extra_field(spec)
            self.extra_specs.setdefault(category.pk, []).append((spec, name))

    # -- groups of fields for the template

    def extra_groups(self) -> list[dict[str, Any]]:
        if not self._all_extras:  # shown again (errors): every category's fields, what was typed kept
            for category in self.categories:
                if category.pk not in self.extra_specs:
                    self._add_extra_fields(category)
            self.extra_specs = {c.pk: self.extra_specs[c.pk] for c in self.categories if c.pk in self.extra_specs}
            self._all_extras = True
        return [
            {
                "category": self.by_pk[pk],
                "label": category_label(self.by_pk[pk]),
                "fields": [(self[name], bool(spec.get("required"))) for spec, name in specs],
            }
            for pk, specs in self.extra_specs.items()
        ]

    def selected_category(self) -> Category | None:
        value = self.cleaned_data.get("category") if hasattr(self, "cleaned_data") else None
        if value is None and self.is_bound:
            raw = self.data.get("category")
            value = int(raw) if isinstance(raw, str) and raw.isdigit() else None
        return self.by_pk.get(value) if value is not None else None

    # -- validation

    def clean_description(self) -> str:
        text = (self.cleaned_data.get("description") or "").strip()
        if len(text) < MIN_DESCRIPTION:
            raise ValidationError(
                _("Please write a little more (at least %(n)d characters) so the staff understand the problem.")
                % {"n": MIN_DESCRIPTION}
            )
        return text

    def clean_reporter_phone(self) -> str:
        value = (self.cleaned_data.get("reporter_phone") or "").strip()
        if not value or self.data.get("anonymous"):
            return ""
        return validate_phone(value)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("anonymous"):
            data["reporter_name"] = ""
            data["reporter_phone"] = ""
        lng, lat = data.get("lng"), data.get("lat")
        has_point = lng is not None and lat is not None
        if "lng" not in self.errors and "lat" not in self.errors and (lng is None) != (lat is None):
            self.add_error("address", _("The map position is incomplete; tap the map again."))
            has_point = False
        if not has_point and not (data.get("address") or "").strip() and "address" not in self.errors:
            self.add_error(
                "address",
                _("Tell us where: tap the place on the map, use “My location”, or type an address."),
            )
        category = self.by_pk.get(data["category"]) if data.get("category") is not None else None
        data["extra"] = self._clean_extra(category) if category is not None else {}
        return data

    def _clean_extra(self, category: Category) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for spec, name in self.extra_specs.get(category.pk, []):
            if name in self.errors:
                continue
            value = self.cleaned_data.get(name)
            empty = value in (None, "", [])
            if empty:
                if spec.get("required"):
                    label = self.fields[name].label
                    self.add_error(name, _("“%(label)s” is required for this kind of problem.") % {"label": label})
                continue
            if isinstance(value, datetime.datetime):
                value = timezone.localtime(value).isoformat(timespec="minutes")
            elif isinstance(value, Decimal):
                number = float(value)
                value = int(number) if number.is_integer() else number
            extra[str(spec["code"])] = value
        return extra

    def service_field(self, key: str) -> str | None:
        """The form field a service error key belongs to (None: show it above the form)."""
        if key in self.fields and key not in ("lng", "lat"):
            return key
        if key == "files":
            return "photos"
        if key in ("location", "lng", "lat"):
            return "address"
        if key.startswith("extra_"):
            category = self.selected_category()
            if category is not None:
                name = extra_field_name(category, key[len("extra_") :])
                if name in self.fields:
                    return name
        return None

    def apply_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            field = self.service_field(key)
            for message in messages:
                if field is not None and field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, message)


# --- the private link ----------------------------------------------------------------------------------


class _VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


class AddInfoForm(_VersionedForm):
    note = forms.CharField(
        label=gettext_lazy("What would you like to add?"),
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": gettext_lazy("Write the information you want to add.")},
    )
    photos = PhotosField(label=gettext_lazy("Photos (optional)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["photos"].help_text = photos_help()
        self.fields["note"].widget.attrs["maxlength"] = str(MAX_NOTE)


RATING_CHOICES = [
    (5, gettext_lazy("5 · Very satisfied")),
    (4, gettext_lazy("4 · Satisfied")),
    (3, gettext_lazy("3 · Acceptable")),
    (2, gettext_lazy("2 · Dissatisfied")),
    (1, gettext_lazy("1 · Very dissatisfied")),
]


class RateForm(_VersionedForm):
    rating = forms.TypedChoiceField(
        label=gettext_lazy("How satisfied are you with the handling?"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose a rating from 1 to 5."),
            "invalid_choice": gettext_lazy("Choose a rating from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        max_length=MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReopenForm(_VersionedForm):
    reason = forms.CharField(
        label=gettext_lazy("Why is the problem not solved?"),
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": gettext_lazy("Tell us what is still wrong, so the centre can act on it.")},
    )


class LookupForm(forms.Form):
    number = forms.CharField(
        label=gettext_lazy("Tracking number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": gettext_lazy("Enter the tracking number from your confirmation.")},
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone number you gave"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
        error_messages={"required": gettext_lazy("Enter the phone number you gave with the report.")},
    )

    def clean_number(self) -> str:
        value = "".join((self.cleaned_data.get("number") or "").split())
        if not value.isdigit():
            raise ValidationError(_("A tracking number has only digits, e.g. 20260115000123."))
        return value

    def clean_phone(self) -> str:
        return validate_phone(self.cleaned_data.get("phone") or "")
