"""Forms of the staff case pages: they only parse; the services validate and write.

- ``CaseFilterForm``: the filters of the case list and its Excel export.
- ``ActionForm``: one workflow action on one case, with exactly the inputs the
  transition requires (``Transition.requires``) plus an optional note.
- ``IntakeForm``: a case filed by staff (walk-in, phone, proxy filing 代办),
  with the category's extra fields added dynamically.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.accounts.models import User
from fengqiao.core.scope import ScopeSpec, scope_q
from fengqiao.core.workflow import Transition
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

from .labels import action_label
from .models import Case, CaseKind, CaseState, Category, Channel, Complexity

#: channels staff can choose when they file a case themselves
STAFF_CHANNELS = (Channel.WALK_IN, Channel.PHONE, Channel.PROXY, Channel.GRID)


def apply_errors(form: forms.Form, exc: ValidationError, rename: Mapping[str, str] | None = None) -> None:
    """Put a service's field-keyed errors next to the form's fields (the others on top)."""
    rename = rename or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, messages in exc.message_dict.items():
        name = rename.get(key, key)
        if name not in form.fields and name.startswith("extra"):
            # "extra.<code>" / "extra_<code>" → the extra field's input
            code = name.split(".", 1)[-1].removeprefix("extra_")
            name = f"extra_{code}"
        form.add_error(name if name in form.fields else None, messages)


# --- scope helpers ---------------------------------------------------------------------------


def _current_regions() -> QuerySet[Region]:
    today = timezone.localdate()
    return Region.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))


def communities_in_scope(user: Any, perm: str) -> QuerySet[Region]:
    """Current communities inside ``user``'s scope for ``perm``, and those holding one of their grids.

    A grid worker's scope is a set of grids, not their community: the
    communities of those grids are offered too (the service checks the case's
    own place against the scope again).
    """
    q = scope_q(user, perm, ScopeSpec(region_path="path"))
    if q is None:
        return Region.objects.none()
    regions = _current_regions()
    direct = regions.filter(level=Level.COMMUNITY)
    grids = regions.filter(level=Level.GRID)
    if q:
        direct = direct.filter(q)
        grids = grids.filter(q)
    return (
        Region.objects.filter(Q(pk__in=direct.order_by().values("pk")) | Q(pk__in=grids.order_by().values("parent_id")))
        .select_related("parent")
        .order_by("path")
    )


def region_filter_choices(user: Any, perm: str = "cases.view_case") -> list[Region]:
    """Streets and communities offered as the list's place filter (those in the user's scope)."""
    q = scope_q(user, perm, ScopeSpec(region_path="path"))
    if q is None:
        return []
    regions = _current_regions().filter(level__in=(Level.COUNTY, Level.STREET, Level.COMMUNITY))
    if q:
        regions = regions.filter(q)
    found = list(regions.order_by("path")[:400])
    if not found:
        found = list(communities_in_scope(user, perm)[:400])
    return found


def units_in_scope(user: Any, perm: str, *, departments_only: bool = False) -> QuerySet[Unit]:
    """Active units the actor may hand a case to: visible to them and inside their scope for
    ``perm`` (the transition's permission). The district centre dispatches to departments and
    teams, not to street or community centres."""
    q = scope_q(user, perm, ScopeSpec(region_path="region_path", unit="pk"))
    if q is None:
        return Unit.objects.none()
    qs: QuerySet[Unit] = Unit.objects.restrict(user, "view").filter(is_active=True)
    if q:
        qs = qs.filter(q)
    if departments_only:
        qs = qs.exclude(kind=UnitKind.CENTRE, region__level__gte=Level.STREET)
    return qs.select_related("region").order_by("region_path", "kind", "name")


def grid_staff(case: Case) -> QuerySet[User]:
    """The people currently responsible for the case's grid (grid workers, leader, liaison, police)."""
    if case.grid_id is None:
        return User.objects.none()
    today = timezone.localdate()
    assignments = (
        GridAssignment.objects.filter(grid_id=case.grid_id, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .values("user_id")
    )
    return User.objects.filter(is_active=True, pk__in=assignments).select_related("unit").order_by("username")


def _grid_worker(case: Case) -> User | None:
    """The first current grid worker (网格员) of the case's grid, if any."""
    if case.grid_id is None:
        return None
    today = timezone.localdate()
    assignment = (
        GridAssignment.objects.filter(
            grid_id=case.grid_id, role=GridRole.GRID_WORKER, valid_from__lte=today, user__is_active=True
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    return assignment.user if assignment is not None else None


class UnitChoiceField(forms.ModelChoiceField[Unit]):
    def label_from_instance(self, obj: Unit) -> str:
        return f"{obj.name}（{obj.get_kind_display()}）"


class PersonChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        unit = obj.unit.name if obj.unit_id is not None and obj.unit is not None else ""
        return f"{obj} · {unit}" if unit else str(obj)


class CommunityChoiceField(forms.ModelChoiceField[Region]):
    def label_from_instance(self, obj: Region) -> str:
        parent = obj.parent.name if obj.parent is not None else ""
        return f"{parent} · {obj.name}" if parent else obj.name


# --- list filters ----------------------------------------------------------------------------

SORTS = {
    "received": _("Newest first"),
    "due": _("Deadline, soonest first"),
}

MINE = {
    "assigned": _("Assigned to me"),
    "unit": _("My unit's cases"),
    "filed": _("Filed by me"),
}

OPEN = "open"


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Tracking number"), required=False, max_length=20)
    state = forms.ChoiceField(label=_("State"), required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False, empty_label=_("All categories")
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    region = forms.ChoiceField(label=_("Place"), required=False)
    mine = forms.ChoiceField(label=_("Whose"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=list(SORTS.items()))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["state"].choices = [  # type: ignore[attr-defined]
            ("", _("All states")),
            (OPEN, _("Open (not yet closed)")),
            *CaseState.choices,
        ]
        self.fields["category"].queryset = Category.objects.filter(is_active=True).order_by(  # type: ignore[attr-defined]
            "sort_order", "code"
        )
        self.fields["kind"].choices = [("", _("All kinds")), *CaseKind.choices]  # type: ignore[attr-defined]
        self.fields["channel"].choices = [("", _("All channels")), *Channel.choices]  # type: ignore[attr-defined]
        self.region_choices = region_filter_choices(user)
        self.fields["region"].choices = [  # type: ignore[attr-defined]
            ("", _("Everywhere in my area")),
            *[(r.path, ("\u3000" * max(0, r.level - Level.COUNTY)) + r.name) for r in self.region_choices],
        ]
        self.fields["mine"].choices = [("", _("Everyone's")), *MINE.items()]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (an invalid value is ignored, never an error page)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        result: dict[str, Any] = {}
        for key in ("q", "state", "kind", "channel", "region", "mine"):
            value = data.get(key)
            if value:
                result[key] = value.strip() if isinstance(value, str) else value
        if data.get("category") is not None:
            result["category"] = data["category"].pk
        if data.get("sort") == "due":
            result["order"] = "due"
        if data.get("overdue"):
            result["overdue"] = True
        return result


# --- workflow actions ------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by the service (size and real type)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"accept": "image/*", "capture": "environment", "multiple": True}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        files = [single(d, initial) for d in data if d] if isinstance(data, (list, tuple)) else [single(data, initial)]
        files = [f for f in files if f]
        # size and real type, checked here too so that every problem of the form shows at once
        from .services import validate_upload

        errors: list[str] = []
        for f in files:
            try:
                validate_upload(f)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files


#: actions with a "show to the resident" choice (the service decides for the others: feedback,
#: rejection, closing... are always shown on the resident's tracking page)
PUBLIC_CHOICE = frozenset({"comment", "report_findings"})
#: actions that carry photos
PHOTO_ACTIONS = frozenset({"feedback", "report_findings", "comment"})


class ActionForm(forms.Form):
    """The inputs of one transition. Built for ``transition`` on ``case`` acted on by ``user``."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, transition: Transition, case: Case, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", transition.action)
        kwargs.setdefault("initial", {"expected_version": case.version})
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.case = case
        self.user = user
        self.action = transition.action
        self.into_case: Case | None = None
        self.concurrent = False
        requires = set(transition.requires)
        needs_target = "target" in requires
        if needs_target:
            units = units_in_scope(user, transition.permission, departments_only=self.action == "dispatch")
            self.fields["target_unit"] = UnitChoiceField(
                label=_("Unit"),
                queryset=units,
                required=False,
                empty_label=_("— choose a unit —"),
                help_text=_("The unit that will handle the case."),
            )
            self.fields["target_user"] = PersonChoiceField(
                label=_("Person"),
                queryset=User.objects.filter(is_active=True)
                .filter(Q(unit__in=units.values("pk")) | Q(pk__in=grid_staff(case).values("pk")))
                .select_related("unit"),
                required=False,
                empty_label=_("— anyone in the unit —"),
                help_text=_("Optional: a grid worker or a member of the unit."),
            )
        if needs_target and self.action == "assign" and not self.is_bound:
            # the case's grid worker is the usual assignee: offered first and chosen already
            worker = _grid_worker(case)
            if worker is not None:
                self.initial.setdefault("target_user", worker.pk)
        if needs_target:
            from django.urls import reverse

            self.fields["target_unit"].widget.attrs.update(
                {
                    "hx-get": reverse("cases:target_people", args=[case.number, self.action]),
                    "hx-target": f"#id_{self.action}-target_user",
                    "hx-trigger": "change",
                    "hx-swap": "innerHTML",
                }
            )
        if "into" in requires:
            self.fields["into"] = forms.CharField(
                label=_("Merge into case number"),
                max_length=20,
                help_text=_("The tracking number of the earlier case about the same matter."),
                error_messages={"required": _("Give the tracking number of the earlier case.")},
            )
        if "complexity" in requires:
            self.fields["complexity"] = forms.ChoiceField(
                label=_("Complexity"),
                choices=[("", _("— choose —")), *Complexity.choices],
                initial=case.complexity,
                error_messages={"required": _("Choose the complexity.")},
            )
            self.fields["due"] = forms.DateField(
                label=_("Deadline (complex cases)"),
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                help_text=_("Required for a complex case: the date decided at triage."),
            )
        if "days" in requires:
            self.fields["days"] = forms.IntegerField(
                label=_("Extra days requested"),
                min_value=1,
                max_value=365,
                help_text=_("Working days to add."),
                error_messages={"required": _("Give the number of extra days you need.")},
            )
        if "reason" in requires:
            self.fields["reason"] = forms.CharField(
                label=_("Reason"),
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=2000,
                error_messages={"required": _("Give the reason: it is kept in the case's history.")},
            )
        if "guidance" in requires:
            self.fields["guidance"] = forms.CharField(
                label=_("Guidance for the resident"),
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=2000,
                help_text=_("Where the resident can turn instead (shown to the resident)."),
                error_messages={"required": _("Tell the resident where they can turn instead.")},
            )
        note_required = "note" in requires
        self.fields["note"] = forms.CharField(
            label=_("Note") if note_required else _("Note (optional)"),
            widget=forms.Textarea(attrs={"rows": 4 if note_required else 2}),
            max_length=4000,
            required=note_required,
            error_messages={"required": _("Write the note: what was done, found or decided.")},
        )
        if self.action == "feedback":
            self.fields["note"].label = _("What was done")
            self.fields["note"].error_messages["required"] = _(
                "Write what was done: the resident reads it on their tracking page."
            )
        if self.action in PHOTO_ACTIONS:
            self.fields["files"] = MultipleFileField(
                label=_("Photos"),
                required=False,
                help_text=_("Take photos with the phone camera or choose pictures (JPEG, PNG, WebP)."),
            )
        if self.action in PUBLIC_CHOICE:
            self.fields["public"] = forms.BooleanField(
                label=_("Show this note to the resident"),
                required=False,
                initial=False,
            )

    @property
    def label(self) -> str:
        return action_label(self.action)

    @cached_property
    def people(self) -> dict[str, Any]:
        """The person choices shown: the case's grid staff, then the members of the chosen unit."""
        on_grid = list(grid_staff(self.case))
        selected = str(self["target_user"].value() or "") if "target_user" in self.fields else ""
        unit = str(self["target_unit"].value() or "") if "target_unit" in self.fields else ""
        in_unit: list[User] = []
        if unit.isdigit():
            queryset = self.fields["target_user"].queryset  # type: ignore[attr-defined]
            in_unit = [u for u in queryset.filter(unit_id=int(unit)).order_by("username") if u not in on_grid]
        return {"on_grid": on_grid, "in_unit": in_unit, "selected": selected}

    @property
    def text_fields(self) -> list[str]:
        """Textareas a response template can be inserted into (the first is the default)."""
        return [name for name in ("note", "guidance", "reason") if name in self.fields]

    @property
    def has_files(self) -> bool:
        return "files" in self.fields

    def clean_into(self) -> str:
        number = (self.cleaned_data.get("into") or "").strip().upper()
        from . import selectors

        target = selectors.case_detail(self.user).filter(number__iexact=number).first()
        if target is None:
            raise ValidationError(
                _("No case with the number %(number)s in your area. Check the number."), params={"number": number}
            )
        if target.pk == self.case.pk:
            raise ValidationError(_("A case cannot be merged into itself: give the number of the other case."))
        self.into_case = target
        return number

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "target_unit" in self.fields and not data.get("target_unit") and not data.get("target_user"):
            self.add_error("target_unit", _("Choose the unit (or the person) that is to handle the case."))
        if data.get("complexity") == Complexity.COMPLEX and not data.get("due"):
            self.add_error("due", _("A complex case needs the deadline set at triage: choose a date."))
        due = data.get("due")
        if due is not None and due < timezone.localdate():
            self.add_error("due", _("The deadline cannot be in the past."))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``services.apply_action`` from the cleaned data."""
        data = self.cleaned_data
        kwargs: dict[str, Any] = {"expected_version": data["expected_version"], "note": data.get("note") or ""}
        for name in ("reason", "guidance", "days", "target_unit", "target_user"):
            if data.get(name) not in (None, ""):
                kwargs[name] = data[name]
        if data.get("complexity"):
            kwargs["complexity"] = data["complexity"]
        if data.get("due"):
            kwargs["due"] = end_of_day(data["due"])
        if self.into_case is not None:
            kwargs["into"] = self.into_case
        if data.get("files"):
            kwargs["files"] = data["files"]
        if "public" in self.fields:
            kwargs["public"] = bool(data.get("public"))
        return kwargs


def end_of_day(day: datetime.date) -> datetime.datetime:
    """A date chosen in a form as a deadline: the end of that working day (local time)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(18, 0)))


# --- staff intake ----------------------------------------------------------------------------


def extra_field_definitions(category: Category | None) -> list[dict[str, Any]]:
    if category is None or not isinstance(category.extra_fields, list):
        return []
    return [f for f in category.extra_fields if isinstance(f, dict) and f.get("code")]


def _field_label(definition: Mapping[str, Any]) -> str:
    from django.utils.translation import get_language

    if (get_language() or "").startswith("en") and definition.get("label_en"):
        return str(definition["label_en"])
    return str(definition.get("label") or definition.get("code"))


def build_extra_field(definition: Mapping[str, Any]) -> forms.Field:
    """A form field for one Open311-style attribute of a category."""
    datatype = definition.get("datatype") or "string"
    required = bool(definition.get("required"))
    label = _field_label(definition)
    help_text = str(definition.get("description") or "")
    values = [(str(v.get("key")), str(v.get("name") or v.get("key"))) for v in definition.get("values") or []]
    common: dict[str, Any] = {"label": label, "required": required, "help_text": help_text}
    if datatype == "number":
        return forms.DecimalField(**common)
    if datatype == "datetime":
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), **common
        )
    if datatype == "text":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, **common)
    if datatype == "singlevaluelist":
        return forms.ChoiceField(choices=[("", _("— choose —")), *values], **common)
    if datatype == "multivaluelist":
        return forms.MultipleChoiceField(choices=values, widget=forms.CheckboxSelectMultiple, **common)
    return forms.CharField(max_length=200, **common)


def extra_value(value: Any) -> Any:
    """A cleaned extra-field value as stored in ``Case.extra`` (JSON)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value).isoformat(timespec="minutes") if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def category_queryset() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("kind", "sort_order", "code")


class IntakeForm(forms.Form):
    """A case filed by staff for a resident: walk-in, phone call, proxy filing (代办) or grid patrol."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    channel = forms.ChoiceField(label=_("How it came in"), choices=[(c.value, c.label) for c in STAFF_CHANNELS])
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), empty_label=_("— choose a category —")
    )
    community = CommunityChoiceField(
        label=_("Community"), queryset=Region.objects.none(), empty_label=_("— choose a community —")
    )
    title = forms.CharField(label=_("Title (optional)"), max_length=120, required=False)
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
        help_text=_("What happened, where and since when, in the resident's words."),
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    lng = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    reporter_name = forms.CharField(label=pgettext_lazy("person", "Resident's name"), max_length=50, required=False)
    reporter_phone = forms.CharField(label=_("Resident's phone"), max_length=40, required=False)
    anonymous = forms.BooleanField(label=_("The resident wishes to stay anonymous"), required=False)
    photos = MultipleFileField(
        label=_("Photos"),
        required=False,
        help_text=_("Optional: pictures the resident brought or sent (JPEG, PNG, WebP)."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["category"].queryset = category_queryset()  # type: ignore[attr-defined]
        from django.urls import reverse

        self.fields["category"].widget.attrs.update(
            {
                "hx-get": reverse("cases:intake_extra_fields"),
                "hx-target": "#extra-fields",
                "hx-trigger": "change",
                "hx-swap": "innerHTML",
            }
        )
        self.fields["community"].queryset = communities_in_scope(user, "cases.add_case")  # type: ignore[attr-defined]
        self.fields["reporter_phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})
        self.fields["reporter_name"].widget.attrs.update({"autocomplete": "off"})
        self.fields["description"].widget.attrs.update({"maxlength": 4000})
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = uuid.uuid4().hex
        self.chosen_category = self._chosen_category()
        for definition in extra_field_definitions(self.chosen_category):
            self.fields[f"extra_{definition['code']}"] = build_extra_field(definition)

    def _chosen_category(self) -> Category | None:
        raw = self.data.get("category") if self.is_bound else self.initial.get("category")
        if isinstance(raw, Category):
            return raw
        try:
            pk = int(str(raw))
        except (TypeError, ValueError):
            return None
        return category_queryset().filter(pk=pk).first()

    @property
    def extra_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith("extra_")]

    def extra_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.extra_field_names]

    def clean_reporter_phone(self) -> str:
        value: str = (self.cleaned_data.get("reporter_phone") or "").strip()
        if value:
            from fengqiao.core.validators import validate_phone

            validate_phone(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        channel = data.get("channel")
        category: Category | None = data.get("category")
        if channel == Channel.PROXY:
            if not data.get("reporter_name"):
                self.add_error("reporter_name", _("Proxy filing (代办) is for a named resident: enter their name."))
            if not data.get("reporter_phone") and "reporter_phone" not in self.errors:
                self.add_error(
                    "reporter_phone", _("Proxy filing needs the resident's phone, to tell them when it is done.")
                )
            if data.get("anonymous"):
                self.add_error("anonymous", _("A proxy filing cannot be anonymous."))
        if (data.get("lng") is None) != (data.get("lat") is None):
            self.add_error("lng", _("Give both longitude and latitude, or neither (tap the map to fill both)."))
        if category is not None and channel == Channel.PROXY and category.kind != CaseKind.SERVICE:
            self.add_error(
                "category",
                _("Proxy filing (代办) is for service requests: choose a service category such as 居住证办理."),
            )
        return data

    def extra(self) -> dict[str, Any]:
        data = self.cleaned_data
        result: dict[str, Any] = {}
        for definition in extra_field_definitions(self.chosen_category):
            value = data.get(f"extra_{definition['code']}")
            if value in (None, "", []):
                continue
            result[str(definition["code"])] = extra_value(value)
        return result

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "category": data["category"],
            "description": data["description"],
            "channel": data["channel"],
            "community": data["community"],
            "lng": data.get("lng"),
            "lat": data.get("lat"),
            "address": data.get("address") or "",
            "title": data.get("title") or "",
            "reporter_name": "" if data.get("anonymous") else data.get("reporter_name") or "",
            "reporter_phone": "" if data.get("anonymous") else data.get("reporter_phone") or "",
            "anonymous": bool(data.get("anonymous")),
            "extra": self.extra(),
            "idempotency_key": data.get("idempotency_key") or None,
            "files": data.get("photos") or [],
        }


def display_extra(category: Category, extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) of a case's extra information, in the category's order, keys it no longer defines last."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for definition in extra_field_definitions(category):
        code = str(definition["code"])
        seen.add(code)
        if code not in extra:
            continue
        rows.append((_field_label(definition), _show(extra[code], definition)))
    for code, value in extra.items():
        if code not in seen:
            rows.append((code, _show(value, {})))
    return rows


def _show(value: Any, definition: Mapping[str, Any]) -> str:
    names = {str(v.get("key")): str(v.get("name") or v.get("key")) for v in definition.get("values") or []}
    if isinstance(value, list):
        return "、".join(names.get(str(v), str(v)) for v in value)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    return names.get(str(value), str(value))


# --- how the actions look ----------------------------------------------------------------------

#: actions that move the case forward (shown as the main buttons)
#: actions whose text goes to the resident, where the category's reply templates help
REPLY_ACTIONS = frozenset({"feedback", "report_findings", "reject", "return"})
PRIMARY_ACTIONS = frozenset(
    {"handle_here", "assign", "approve_escalation", "dispatch", "accept", "feedback", "pass_review", "resume"}
)
#: actions that end or push back the case (shown in a warning colour)
DANGER_ACTIONS = frozenset({"reject", "return", "rework", "deny_escalation", "deny_extension", "merge"})
