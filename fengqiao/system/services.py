"""Writing dictionaries (code lists) and system parameters.

Every function is atomic, validates first (a bad value raises a field-keyed
``ValidationError`` and stores nothing), writes, records an audit event and
invalidates the cached reads of ``fengqiao.system.selectors``.

These are global configuration, not data of a region or a unit: access is
governed by the model permissions only (``system.view_parameter``,
``system.change_parameter``, ``system.change_dictionary`` ...), there is no
data scope to restrict by.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fengqiao.audit.services import changed, record, snapshot

from .models import Dictionary, DictionaryItem, Parameter, ParameterType
from .selectors import invalidate_dictionary, invalidate_parameter

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
CODE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
ITEM_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
MAX_STRING = 2000
MAX_JSON = 20000

_TRUE = {"true", "1", "yes", "y", "on", "是", "真"}
_FALSE = {"false", "0", "no", "n", "off", "否", "假"}


# --- typed values -----------------------------------------------------------------


def parse_value(value_type: str, raw: Any) -> Any:
    """Turn ``raw`` (form text or a Python value) into the JSON value stored for ``value_type``.

    Raises ``ValidationError`` with a message saying what is wrong and what is expected.
    """
    if value_type == ParameterType.INTEGER:
        if isinstance(raw, bool):
            raise ValidationError(_("Enter a whole number such as 10, not yes/no."))
        if isinstance(raw, int):
            return raw
        text = str(raw).strip().replace(",", "").replace("，", "")
        if not re.fullmatch(r"[+-]?\d{1,18}", text):
            raise ValidationError(
                _("“%(value)s” is not a whole number. Enter digits only, such as 10 or -3.") % {"value": raw}
            )
        return int(text)
    if value_type == ParameterType.DECIMAL:
        if isinstance(raw, bool):
            raise ValidationError(_("Enter a number such as 0.75, not yes/no."))
        text = str(raw).strip().replace(",", "").replace("，", "")
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            number = None
        if number is None or not number.is_finite() or not text or len(text) > 40:
            raise ValidationError(_("“%(value)s” is not a number. Enter a number such as 0.75 or 12.") % {"value": raw})
        return str(number)
    if value_type == ParameterType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValidationError(_("“%(value)s” is not yes or no. Enter true or false.") % {"value": raw})
    if value_type == ParameterType.JSON:
        if not isinstance(raw, str):
            try:
                text = json.dumps(raw, ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                raise ValidationError(_("This value cannot be stored as JSON.")) from exc
            raw = text
        text = raw.strip()
        if not text:
            raise ValidationError(_('Enter a JSON value, such as [0.5, 0.8] or {"a": 1}.'))
        if len(text) > MAX_JSON:
            raise ValidationError(_("The JSON value is too long (at most %(max)s characters).") % {"max": MAX_JSON})
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            position = getattr(exc, "colno", None)
            if position is not None:
                raise ValidationError(
                    _("This is not valid JSON (problem near character %(pos)s: %(msg)s). Example: [0.5, 0.8].")
                    % {"pos": position, "msg": getattr(exc, "msg", str(exc))}
                ) from exc
            raise ValidationError(_("This is not valid JSON. Example: [0.5, 0.8].")) from exc
    if value_type == ParameterType.STRING:
        if raw is None:
            return ""
        if not isinstance(raw, str):
            raise ValidationError(_("Enter text."))
        text = raw.strip()
        if len(text) > MAX_STRING:
            raise ValidationError(_("The text is too long (at most %(max)s characters).") % {"max": MAX_STRING})
        return text
    raise ValidationError(_("Unknown parameter type “%(type)s”.") % {"type": value_type})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def typed_value(value_type: str, stored: Any) -> Any:
    """The Python value for a stored JSON value (decimals are stored as text)."""
    if value_type == ParameterType.DECIMAL and stored is not None:
        return Decimal(str(stored))
    return stored


def format_value(value_type: str, stored: Any) -> str:
    """The stored value as the user types it into the edit form."""
    if value_type == ParameterType.BOOLEAN:
        return "true" if stored else "false"
    if value_type == ParameterType.JSON:
        return json.dumps(stored, ensure_ascii=False)
    return "" if stored is None else str(stored)


# --- rules for known parameters ------------------------------------------------------


def _between(low: int, high: int) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not low <= value <= high:
            raise ValidationError(_("Enter a value from %(low)s to %(high)s.") % {"low": low, "high": high})

    return check


def _fractions(value: Any) -> None:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValidationError(_("Enter a list of fractions of the time limit, such as [0.5, 0.8]."))
    if not all(0 < v < 1 for v in value) or sorted(set(value)) != value:
        raise ValidationError(
            _("Each fraction must be above 0 and below 1, in increasing order without repeats, e.g. [0.5, 0.8].")
        )


def _max_length(limit: int) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if len(value) > limit:
            raise ValidationError(_("At most %(max)s characters.") % {"max": limit})

    return check


@dataclass(frozen=True)
class DefaultParameter:
    key: str
    name: Any  # lazy translation, stored in the current language at creation
    value_type: str
    value: Any
    description: Any = ""
    check: Callable[[Any], None] | None = None


DEFAULT_PARAMETERS: tuple[DefaultParameter, ...] = (
    DefaultParameter(
        "intake.max_photo_mb",
        gettext_lazy("Largest photo upload (MB)"),
        ParameterType.INTEGER,
        10,
        gettext_lazy("Photos attached to a report may be at most this many megabytes each."),
        _between(1, 100),
    ),
    DefaultParameter(
        "case.reminder_fractions",
        gettext_lazy("Deadline reminders"),
        ParameterType.JSON,
        [0.5, 0.8],
        gettext_lazy("Remind the handler when these fractions of a case's time limit have passed."),
        _fractions,
    ),
    DefaultParameter(
        "platform.district_name",
        gettext_lazy("District name"),
        ParameterType.STRING,
        "",
        gettext_lazy("The district this platform serves, shown in page headings and exports."),
        _max_length(100),
    ),
    DefaultParameter(
        "intake.max_photos",
        gettext_lazy("Photos per report"),
        ParameterType.INTEGER,
        3,
        gettext_lazy("How many photos a resident or handler may attach at once."),
        _between(1, 20),
    ),
    DefaultParameter(
        "case.first_response_days",
        gettext_lazy("First response (working days)"),
        ParameterType.INTEGER,
        1,
        gettext_lazy("A new report must be triaged within this many working days."),
        _between(1, 30),
    ),
    DefaultParameter(
        "case.deadline_days",
        gettext_lazy("Resolution time limits (working days)"),
        ParameterType.JSON,
        {"simple": 3, "general": 7, "complex": 15},
        gettext_lazy(
            "Working days to resolve a case by complexity (simple 3, general 7; complex cases get a deadline at "
            "triage, this is only the default)."
        ),
    ),
    DefaultParameter(
        "case.reopen_days",
        gettext_lazy("Days to reopen"),
        ParameterType.INTEGER,
        14,
        gettext_lazy("A dissatisfied resident may reopen a closed case within this many days."),
        _between(1, 365),
    ),
    DefaultParameter(
        "case.duplicate_window_days",
        gettext_lazy("Duplicate search window (days)"),
        ParameterType.INTEGER,
        30,
        gettext_lazy("Open cases received within this many days are compared when looking for duplicates."),
        _between(1, 365),
    ),
    DefaultParameter(
        "case.duplicate_radius_m",
        gettext_lazy("Duplicate search radius (metres)"),
        ParameterType.INTEGER,
        300,
        gettext_lazy("Cases within this distance count as near the same place."),
        _between(10, 10000),
    ),
    DefaultParameter(
        "audit.verify_recent_blocks",
        gettext_lazy("Audit blocks checked on the verification page"),
        ParameterType.INTEGER,
        50,
        gettext_lazy("The audit verification page re-checks this many of the newest sealed blocks."),
        _between(1, 5000),
    ),
)

#: extra checks for known keys (beyond the type)
PARAMETER_RULES: dict[str, Callable[[Any], None]] = {p.key: p.check for p in DEFAULT_PARAMETERS if p.check}


def validate_parameter_value(key: str, value_type: str, raw: Any) -> Any:
    value = parse_value(value_type, raw)
    rule = PARAMETER_RULES.get(key)
    if rule is not None:
        rule(value)
    return value


# --- helpers --------------------------------------------------------------------------


def _text(errors: dict[str, list[str]], field: str, value: Any, max_length: int, required: bool = True) -> str:
    text = ("" if value is None else str(value)).strip()
    if required and not text:
        errors.setdefault(field, []).append(_("This field is required."))
    elif len(text) > max_length:
        errors.setdefault(field, []).append(
            _("At most %(max)s characters (this has %(n)s).") % {"max": max_length, "n": len(text)}
        )
    return text


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _field_error(errors: dict[str, list[str]], field: str, exc: ValidationError) -> None:
    errors.setdefault(field, []).extend(exc.messages)


# --- parameters -------------------------------------------------------------------------


@transaction.atomic
def create_parameter(
    *, actor: Any, key: str, name: str, value_type: str, value: Any, description: str = ""
) -> Parameter:
    errors: dict[str, list[str]] = {}
    key = _text(errors, "key", key, 100)
    if key and "key" not in errors and not KEY_RE.match(key):
        errors.setdefault("key", []).append(
            _("Use lower-case letters, digits and underscores in dotted parts, such as “case.reminder_days”.")
        )
    name = _text(errors, "name", name, 100)
    description = _text(errors, "description", description, 2000, required=False)
    parsed: Any = None
    if value_type not in ParameterType.values:
        errors.setdefault("value_type", []).append(_("Choose one of the listed types."))
    else:
        try:
            parsed = validate_parameter_value(key, value_type, value)
        except ValidationError as exc:
            _field_error(errors, "value", exc)
    if key and "key" not in errors and Parameter.objects.filter(key=key).exists():
        errors.setdefault("key", []).append(_("A parameter with the key “%(key)s” already exists.") % {"key": key})
    _raise(errors)
    try:
        with transaction.atomic():
            parameter = Parameter.objects.create(
                key=key, name=name, value_type=value_type, value=parsed, description=description
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"key": [_("A parameter with the key “%(key)s” already exists.") % {"key": key}]}
        ) from exc
    record("system.parameter.create", actor=actor, obj=parameter, after=snapshot(parameter))
    invalidate_parameter(key)
    return parameter


@transaction.atomic
def update_parameter(
    parameter: Parameter, *, actor: Any, value: Any, name: str | None = None, description: str | None = None
) -> Parameter:
    current = Parameter.objects.select_for_update().get(pk=parameter.pk)
    before = snapshot(current)
    errors: dict[str, list[str]] = {}
    new_name = current.name if name is None else _text(errors, "name", name, 100)
    new_description = (
        current.description if description is None else _text(errors, "description", description, 2000, False)
    )
    try:
        parsed = validate_parameter_value(current.key, current.value_type, value)
    except ValidationError as exc:
        _field_error(errors, "value", exc)
    _raise(errors)
    current.name, current.description, current.value = new_name, new_description, parsed
    current.save(update_fields=["name", "description", "value", "updated_at"])
    old, new = changed(before, snapshot(current))
    old.pop("updated_at", None)
    new.pop("updated_at", None)
    if new:
        record("system.parameter.update", actor=actor, obj=current, before=old, after=new)
    invalidate_parameter(current.key)
    return current


@transaction.atomic
def delete_parameter(parameter: Parameter, *, actor: Any) -> None:
    current = Parameter.objects.select_for_update().get(pk=parameter.pk)
    record("system.parameter.delete", actor=actor, obj=current, before=snapshot(current))
    key = current.key
    current.delete()
    invalidate_parameter(key)


def ensure_default_parameters(actor: Any = None) -> list[Parameter]:
    """Create the parameters later work relies on, if missing; existing values are kept. Idempotent."""
    created: list[Parameter] = []
    for default in DEFAULT_PARAMETERS:
        if Parameter.objects.filter(key=default.key).exists():
            continue
        try:
            created.append(
                create_parameter(
                    actor=actor,
                    key=default.key,
                    name=str(default.name),
                    value_type=default.value_type,
                    value=default.value,
                    description=str(default.description),
                )
            )
        except ValidationError:
            if not Parameter.objects.filter(key=default.key).exists():  # not a concurrent creation
                raise
    return created


# --- dictionaries ------------------------------------------------------------------------


def _check_code(errors: dict[str, list[str]], code: str) -> None:
    if code and "code" not in errors and not CODE_RE.match(code):
        errors.setdefault("code", []).append(
            _("Use lower-case letters, digits, “_” and “-”, starting with a letter, such as “case_type”.")
        )


@transaction.atomic
def create_dictionary(*, actor: Any, code: str, name: str, description: str = "") -> Dictionary:
    errors: dict[str, list[str]] = {}
    code = _text(errors, "code", code, 50)
    _check_code(errors, code)
    name = _text(errors, "name", name, 100)
    description = _text(errors, "description", description, 2000, required=False)
    if code and "code" not in errors and Dictionary.objects.filter(code=code).exists():
        errors.setdefault("code", []).append(
            _("A dictionary with the code “%(code)s” already exists.") % {"code": code}
        )
    _raise(errors)
    try:
        with transaction.atomic():
            dictionary = Dictionary.objects.create(code=code, name=name, description=description)
    except IntegrityError as exc:
        raise ValidationError(
            {"code": [_("A dictionary with the code “%(code)s” already exists.") % {"code": code}]}
        ) from exc
    record("system.dictionary.create", actor=actor, obj=dictionary, after=snapshot(dictionary))
    invalidate_dictionary(code)
    return dictionary


@transaction.atomic
def update_dictionary(dictionary: Dictionary, *, actor: Any, name: str, description: str = "") -> Dictionary:
    """Rename or describe a dictionary; its code is fixed (code that reads it refers to it by code)."""
    current = Dictionary.objects.select_for_update().get(pk=dictionary.pk)
    before = snapshot(current)
    errors: dict[str, list[str]] = {}
    current.name = _text(errors, "name", name, 100)
    current.description = _text(errors, "description", description, 2000, required=False)
    _raise(errors)
    current.save(update_fields=["name", "description"])
    old, new = changed(before, snapshot(current))
    if new:
        record("system.dictionary.update", actor=actor, obj=current, before=old, after=new)
    invalidate_dictionary(current.code)
    return current


@transaction.atomic
def delete_dictionary(dictionary: Dictionary, *, actor: Any) -> None:
    current = Dictionary.objects.select_for_update().get(pk=dictionary.pk)
    items = [snapshot(item) for item in current.items.all()]
    record(
        "system.dictionary.delete",
        actor=actor,
        obj=current,
        before=snapshot(current),
        detail={"items": items},
    )
    code = current.code
    current.delete()
    invalidate_dictionary(code)


def _item_fields(
    errors: dict[str, list[str]], label: Any, label_en: Any, sort_order: Any, is_active: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "label": _text(errors, "label", label, 100),
        "label_en": _text(errors, "label_en", label_en, 100, required=False),
        "is_active": bool(is_active),
    }
    try:
        order = int(sort_order if sort_order not in (None, "") else 0)
        if isinstance(sort_order, bool) or not -1_000_000 <= order <= 1_000_000:
            raise ValueError
        fields["sort_order"] = order
    except (TypeError, ValueError):
        errors.setdefault("sort_order", []).append(_("Enter a whole number for the order, such as 10."))
    return fields


@transaction.atomic
def create_item(
    dictionary: Dictionary,
    *,
    actor: Any,
    value: str,
    label: str,
    label_en: str = "",
    sort_order: Any = 0,
    is_active: bool = True,
) -> DictionaryItem:
    current = Dictionary.objects.select_for_update().get(pk=dictionary.pk)
    errors: dict[str, list[str]] = {}
    value = _text(errors, "value", value, 50)
    if value and "value" not in errors and not ITEM_VALUE_RE.match(value):
        errors.setdefault("value", []).append(
            _("Use letters, digits and “_ . : -” only (no spaces), such as “dispute” or “01”.")
        )
    fields = _item_fields(errors, label, label_en, sort_order, is_active)
    if value and "value" not in errors and current.items.filter(value=value).exists():
        errors.setdefault("value", []).append(
            _("This dictionary already has an item with the value “%(value)s”.") % {"value": value}
        )
    _raise(errors)
    item = DictionaryItem.objects.create(dictionary=current, value=value, **fields)
    record(
        "system.dictionary_item.create",
        actor=actor,
        obj=item,
        after=snapshot(item),
        detail={"dictionary": current.code},
    )
    invalidate_dictionary(current.code)
    return item


@transaction.atomic
def update_item(
    item: DictionaryItem, *, actor: Any, label: str, label_en: str = "", sort_order: Any = 0, is_active: bool = True
) -> DictionaryItem:
    """Change an item's labels, order or active flag. Its value is fixed: records store it.
    Deactivate an item to stop offering it."""
    current = DictionaryItem.objects.select_for_update().select_related("dictionary").get(pk=item.pk)
    before = snapshot(current)
    errors: dict[str, list[str]] = {}
    fields = _item_fields(errors, label, label_en, sort_order, is_active)
    _raise(errors)
    for name, value in fields.items():
        setattr(current, name, value)
    current.save(update_fields=list(fields))
    old, new = changed(before, snapshot(current))
    if new:
        record(
            "system.dictionary_item.update",
            actor=actor,
            obj=current,
            before=old,
            after=new,
            detail={"dictionary": current.dictionary.code},
        )
    invalidate_dictionary(current.dictionary.code)
    return current


@transaction.atomic
def delete_item(item: DictionaryItem, *, actor: Any) -> None:
    current = DictionaryItem.objects.select_for_update().select_related("dictionary").get(pk=item.pk)
    code = current.dictionary.code
    record(
        "system.dictionary_item.delete", actor=actor, obj=current, before=snapshot(current), detail={"dictionary": code}
    )
    current.delete()
    invalidate_dictionary(code)


def ensure_dictionary(
    code: str,
    name: str,
    items: Iterable[Sequence[Any]] = (),
    *,
    description: str = "",
    actor: Any = None,
) -> Dictionary:
    """Create a dictionary and its missing items (``(value, label[, label_en[, sort_order]])``); idempotent.

    Existing items are left as an administrator may have edited them. For
    apps that seed their code lists (in a data migration or a setup command).
    """
    dictionary = Dictionary.objects.filter(code=code).first()
    if dictionary is None:
        dictionary = create_dictionary(actor=actor, code=code, name=name, description=description)
    existing = set(dictionary.items.values_list("value", flat=True))
    for position, entry in enumerate(items):
        value, label = entry[0], entry[1]
        if value in existing:
            continue
        label_en = entry[2] if len(entry) > 2 else ""
        order = entry[3] if len(entry) > 3 else (position + 1) * 10
        create_item(dictionary, actor=actor, value=value, label=label, label_en=label_en, sort_order=order)
    return dictionary
