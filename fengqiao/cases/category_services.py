"""Writes to the category taxonomy (per district): create, edit, delete — validated and audited.

``extra_fields`` are stored in the shape of Open311 service attributes (see
``Category``): ``{"code", "label", "label_en", "datatype", "required",
"order", "values": [{"key", "name"}]}``; ``response_templates`` as
``{"title", "text"}``.

Changing a category's default complexity changes the open cases of the
category that still have the old default (those whose complexity was set at
triage keep it), records a case event on each, and recomputes their deadlines
with ``fengqiao.cases.services.recompute_deadlines``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import changed, record, snapshot
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import UnitKind

from . import category_selectors as selectors
from .models import OPEN_STATES, Case, CaseEvent, CaseKind, Category, Complexity, HandlingLevel

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
FIELD_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")
MAX_EXTRA_FIELDS = 30
MAX_VALUES = 100
MAX_TEMPLATES = 30


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _text(errors: dict[str, list[str]], key: str, value: Any, max_length: int, required: bool = True) -> str:
    text = ("" if value is None else str(value)).strip()
    if required and not text:
        _add(errors, key, _("This field is required."))
    elif len(text) > max_length:
        _add(errors, key, _("At most %(max)d characters (this has %(n)d).") % {"max": max_length, "n": len(text)})
    return text


# --- extra fields and response templates ----------------------------------------------------


def clean_extra_fields(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate the extra-field rows; return them in the stored shape. Errors under "extra_fields"."""
    rows = list(raw)
    messages: list[str] = []
    result: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    if len(rows) > MAX_EXTRA_FIELDS:
        messages.append(_("At most %(max)d extra fields per category.") % {"max": MAX_EXTRA_FIELDS})
    for number, row in enumerate(rows[:MAX_EXTRA_FIELDS], start=1):
        problems: list[str] = []
        code = str(row.get("code") or "").strip()
        label = str(row.get("label") or "").strip()
        label_en = str(row.get("label_en") or "").strip()
        datatype = str(row.get("datatype") or "string").strip()
        if not code:
            problems.append(_("give it a code (lower-case letters, digits and underscores, such as “estate_name”)"))
        elif len(code) > 40 or not FIELD_CODE_RE.match(code):
            problems.append(
                _("the code “%(code)s” may use only lower-case letters, digits and underscores, starting with a letter")
                % {"code": code}
            )
        elif code in seen:
            problems.append(
                _("the code “%(code)s” is already used by field %(other)d; give each field its own code")
                % {"code": code, "other": seen[code]}
            )
        else:
            seen[code] = number
        if not label:
            problems.append(_("give it a label (the question residents see)"))
        elif len(label) > 100:
            problems.append(_("the label is longer than 100 characters"))
        if len(label_en) > 100:
            problems.append(_("the English label is longer than 100 characters"))
        if datatype not in DATATYPES:
            problems.append(_("choose one of the listed types"))
        values: list[dict[str, str]] = []
        if datatype in LIST_DATATYPES:
            keys: set[str] = set()
            for value in row.get("values") or []:
                key = str(value.get("key") or "").strip()
                name = str(value.get("name") or "").strip() or key
                if not key:
                    continue
                if key in keys:
                    problems.append(_("the choice “%(key)s” is listed twice") % {"key": key})
                    continue
                if len(key) > 50 or len(name) > 100:
                    problems.append(_("the choice “%(key)s” is too long") % {"key": key[:50]})
                    continue
                keys.add(key)
                values.append({"key": key, "name": name})
            if not values:
                problems.append(_("a list needs its choices: one per line, as “key=name” or just the name"))
            elif len(values) > MAX_VALUES:
                problems.append(_("at most %(max)d choices") % {"max": MAX_VALUES})
        if problems:
            messages.append(
                _("Extra field %(number)d (%(label)s): %(problems)s.")
                % {"number": number, "label": label or code or "—", "problems": "; ".join(problems)}
            )
            continue
        item: dict[str, Any] = {
            "code": code,
            "label": label,
            "label_en": label_en,
            "datatype": datatype,
            "required": bool(row.get("required")),
            "order": number,
        }
        if values:
            item["values"] = values
        result.append(item)
    if messages:
        raise ValidationError({"extra_fields": messages})
    return result


def clean_response_templates(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = list(raw)
    messages: list[str] = []
    result: list[dict[str, str]] = []
    if len(rows) > MAX_TEMPLATES:
        messages.append(_("At most %(max)d response templates per category.") % {"max": MAX_TEMPLATES})
    titles: set[str] = set()
    for number, row in enumerate(rows[:MAX_TEMPLATES], start=1):
        title = str(row.get("title") or "").strip()
        text = str(row.get("text") or "").strip()
        problems = []
        if not title:
            problems.append(_("give it a title"))
        elif len(title) > 100:
            problems.append(_("the title is longer than 100 characters"))
        elif title in titles:
            problems.append(_("another template already has this title"))
        if not text:
            problems.append(_("write the reply text"))
        elif len(text) > 2000:
            problems.append(_("the text is longer than 2000 characters"))
        if problems:
            messages.append(
                _("Response template %(number)d: %(problems)s.") % {"number": number, "problems": "; ".join(problems)}
            )
            continue
        titles.add(title)
        result.append({"title": title, "text": text})
    if messages:
        raise ValidationError({"response_templates": messages})
    return result


# --- the category ----------------------------------------------------------------------------


def _clean(
    errors: dict[str, list[str]],
    *,
    name: Any,
    name_en: Any,
    description: Any,
    kind: Any,
    default_complexity: Any,
    default_level: Any,
    default_unit_kind: Any,
    sort_order: Any,
    extra_fields: Iterable[Mapping[str, Any]],
    response_templates: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": _text(errors, "name", name, 100),
        "name_en": _text(errors, "name_en", name_en, 100, required=False),
        "description": _text(errors, "description", description, 2000, required=False),
    }
    for key, value, choices in (
        ("kind", kind, CaseKind.values),
        ("default_complexity", default_complexity, Complexity.values),
        ("default_level", default_level, HandlingLevel.values),
    ):
        if value not in choices:
            _add(errors, key, _("Choose one of the listed options."))
        data[key] = value
    unit_kind = str(default_unit_kind or "")
    if unit_kind and unit_kind not in UnitKind.values:
        _add(errors, "default_unit_kind", _("Choose one of the listed kinds of unit, or leave it empty."))
    data["default_unit_kind"] = unit_kind
    try:
        order = int(sort_order or 0)
        if not -100_000 <= order <= 100_000:
            raise ValueError
        data["sort_order"] = order
    except (TypeError, ValueError):
        _add(errors, "sort_order", _("Enter a whole number, such as 10."))
    for key, cleaner, raw in (
        ("extra_fields", clean_extra_fields, extra_fields),
        ("response_templates", clean_response_templates, response_templates),
    ):
        try:
            data[key] = cleaner(raw)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    return data


def _check_district(actor: Any, district: Region | None, action: str) -> None:
    if district is None:
        if not selectors.can_manage_global(actor, action):
            raise PermissionDenied(_("Only an administrator for all districts may change platform-wide categories."))
        return
    if district.level != Level.COUNTY:
        raise ValidationError({"district": _("Choose a district (county level).")})
    if not selectors.manageable_districts(actor, action).filter(pk=district.pk).exists():
        raise PermissionDenied(_("You may not change the categories of this district."))


def _duplicate_code(code: str, district: Region | None, exclude: int | None = None) -> bool:
    qs = Category.objects.filter(code=code)
    qs = qs.filter(district__isnull=True) if district is None else qs.filter(district=district)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


@transaction.atomic
def create_category(
    *,
    actor: Any,
    code: str,
    name: str,
    kind: str = CaseKind.REPORT,
    district: Region | None = None,
    name_en: str = "",
    description: str = "",
    default_complexity: str = Complexity.GENERAL,
    default_level: str = HandlingLevel.STREET,
    default_unit_kind: str = "",
    is_public: bool = True,
    is_active: bool = True,
    sort_order: int | str = 0,
    extra_fields: Iterable[Mapping[str, Any]] = (),
    response_templates: Iterable[Mapping[str, Any]] = (),
) -> Category:
    if not actor.has_perm("cases.add_category"):
        raise PermissionDenied(_("You may not create categories."))
    _check_district(actor, district, "add")
    errors: dict[str, list[str]] = {}
    code = _text(errors, "code", code, 50)
    if code and "code" not in errors and not CODE_RE.match(code):
        _add(errors, "code", _("Use lower-case letters, digits, “-” and “_”, starting with a letter, such as “noise”."))
    data = _clean(
        errors,
        name=name,
        name_en=name_en,
        description=description,
        kind=kind,
        default_complexity=default_complexity,
        default_level=default_level,
        default_unit_kind=default_unit_kind,
        sort_order=sort_order,
        extra_fields=extra_fields,
        response_templates=response_templates,
    )
    duplicate = _("The code “%(code)s” is already used by another category of this district.") % {"code": code}
    if code and "code" not in errors and _duplicate_code(code, district):
        _add(errors, "code", duplicate)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            category = Category.objects.create(
                code=code, district=district, is_public=bool(is_public), is_active=bool(is_active), **data
            )
    except IntegrityError as exc:
        raise ValidationError({"code": [duplicate]}) from exc
    record(
        "cases.category.create",
        actor=actor,
        obj=category,
        after=snapshot(category),
        region_path=district.path if district else "",
    )
    return category


@transaction.atomic
def update_category(
    category: Category,
    *,
    actor: Any,
    name: str,
    kind: str,
    name_en: str = "",
    description: str = "",
    default_complexity: str = Complexity.GENERAL,
    default_level: str = HandlingLevel.STREET,
    default_unit_kind: str = "",
    is_public: bool = True,
    is_active: bool = True,
    sort_order: int | str = 0,
    extra_fields: Iterable[Mapping[str, Any]] = (),
    response_templates: Iterable[Mapping[str, Any]] = (),
) -> Category:
    """Change everything but the code and the district (they identify the category, e.g. in Open311)."""
    if not actor.has_perm("cases.change_category"):
        raise PermissionDenied(_("You may not change categories."))
    current = Category.objects.select_for_update(of=("self",)).select_related("district").get(pk=category.pk)
    _check_district(actor, current.district, "change")
    before = snapshot(current)
    errors: dict[str, list[str]] = {}
    data = _clean(
        errors,
        name=name,
        name_en=name_en,
        description=description,
        kind=kind,
        default_complexity=default_complexity,
        default_level=default_level,
        default_unit_kind=default_unit_kind,
        sort_order=sort_order,
        extra_fields=extra_fields,
        response_templates=response_templates,
    )
    if errors:
        raise ValidationError(errors)
    old_complexity = current.default_complexity
    for key, value in data.items():
        setattr(current, key, value)
    current.is_public, current.is_active = bool(is_public), bool(is_active)
    current.save()
    old, new = changed(before, snapshot(current))
    recomputed = 0
    if current.default_complexity != old_complexity:
        recomputed = apply_default_complexity(current, old_complexity, actor=actor)
    if new:
        record(
            "cases.category.update",
            actor=actor,
            obj=current,
            before=old,
            after=new,
            detail={"open_cases_recomputed": recomputed} if recomputed else None,
            region_path=current.district.path if current.district else "",
        )
    return current


def apply_default_complexity(category: Category, old: str, *, actor: Any = None) -> int:
    """Give the open cases that still have the old default the new one, and recompute their deadlines.

    Cases whose complexity was set at triage (a ``set_complexity`` event) keep theirs.
    Returns the number of cases changed. Called inside ``update_category``'s transaction.
    """
    new = category.default_complexity
    explicitly_set = CaseEvent.objects.filter(case=OuterRef("pk"), action="set_complexity")
    affected = (
        Case.objects.filter(category=category, state__in=OPEN_STATES, complexity=old)
        .exclude(Exists(explicitly_set))
        .select_for_update()
    )
    ids = list(affected.values_list("pk", flat=True))
    if not ids:
        return 0
    Case.objects.filter(pk__in=ids).update(complexity=new, version=F("version") + 1, updated_at=timezone.now())
    now = timezone.now()
    label = str(getattr(actor, "unit", None) or actor or "")[:100]
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case_id=pk,
            at=now,
            action="category_complexity",
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            actor_label=label,
            note=_("The category's default complexity changed from %(old)s to %(new)s; deadlines recomputed.")
            % {"old": Complexity(old).label, "new": Complexity(new).label},
            data={"from": old, "to": new, "category": category.code},
        )
        for pk in ids
    )
    from . import services

    recompute = getattr(services, "recompute_deadlines", None)
    if recompute is not None:
        recompute(Case.objects.filter(pk__in=ids))
    return len(ids)


@transaction.atomic
def delete_category(category: Category, *, actor: Any) -> None:
    """Only a category no case uses can be deleted; otherwise deactivate it."""
    if not actor.has_perm("cases.delete_category"):
        raise PermissionDenied(_("You may not delete categories."))
    current = Category.objects.select_for_update(of=("self",)).select_related("district").get(pk=category.pk)
    _check_district(actor, current.district, "delete")
    if Case.objects.filter(category=current).exists():
        raise ValidationError(
            _(
                "Cases use this category, so it cannot be deleted. "
                "Untick “active” instead: it then disappears from the forms."
            )
        )
    record(
        "cases.category.delete",
        actor=actor,
        obj=current,
        before=snapshot(current),
        region_path=current.district.path if current.district else "",
    )
    current.delete()
