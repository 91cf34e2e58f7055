"""Human names of audit actions and object types for the log pages.

Actions are stable codes (``"registry.resident.update"``); an app may give
them a translated name with ``register_action_labels({...})`` in its
``AppConfig.ready``. Unnamed actions show their code.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.apps import apps
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_ACTION_LABELS: dict[str, str | Promise] = {
    "auth.login": _("Logged in"),
    "auth.logout": _("Logged out"),
    "auth.login_failed": _("Failed login"),
    "auth.login_locked": _("Login refused: account locked"),
    "audit.export": _("Exported the audit log"),
    # written by fengqiao.core (which has no AppConfig.ready of its own for this)
    "pii.reveal": _("Viewed personal data"),
    "crypto.rotate_data_keys": _("Re-encrypted personal data with a new key"),
    "system.parameter.create": _("Created a parameter"),
    "system.parameter.update": _("Changed a parameter"),
    "system.parameter.delete": _("Deleted a parameter"),
    "system.parameter.export": _("Exported parameters"),
    "system.dictionary.create": _("Created a dictionary"),
    "system.dictionary.update": _("Changed a dictionary"),
    "system.dictionary.delete": _("Deleted a dictionary"),
    "system.dictionary.export": _("Exported dictionaries"),
    "system.dictionary_item.create": _("Added a dictionary item"),
    "system.dictionary_item.update": _("Changed a dictionary item"),
    "system.dictionary_item.delete": _("Deleted a dictionary item"),
}

RESULT_LABELS: dict[str, str | Promise] = {
    "ok": _("Success"),
    "failed": _("Failed"),
    "denied": _("Denied"),
    "locked": _("Account locked"),
    "error": _("Error"),
}

SOURCE_LABELS: dict[str, str | Promise] = {
    "web": _("Web page"),
    "api": _("API"),
    "command": _("Command line"),
    "task": _("Background task"),
    "system": _("System"),
}

LOGIN_ACTIONS = ("auth.login", "auth.logout", "auth.login_failed", "auth.login_locked")


def register_action_labels(labels: Mapping[str, str | Promise]) -> None:
    _ACTION_LABELS.update(labels)


def action_label(code: str) -> str:
    label = _ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def has_action_label(code: str) -> bool:
    return code in _ACTION_LABELS


def action_codes() -> list[str]:
    """Every action code that has a label."""
    return sorted(_ACTION_LABELS)


def actions_matching(text: str) -> list[str]:
    """The codes whose label (in the active language) contains ``text``, for the action filter."""
    needle = text.strip().casefold()
    if not needle:
        return []
    return sorted(code for code, label in _ACTION_LABELS.items() if needle in str(label).casefold())


def result_label(code: str) -> str:
    label = RESULT_LABELS.get(code)
    return str(label) if label is not None else code


def source_label(code: str) -> str:
    label = SOURCE_LABELS.get(code)
    return str(label) if label is not None else code


def operator_label(actor_name: str, source: str) -> str:
    """Who did it: the stored name, or the system and where it ran (a command, a task) when nobody did."""
    if actor_name:
        return actor_name
    return _("System (%(source)s)") % {"source": source_label(source)}


def object_type_label(label: str) -> str:
    """``"registry.Resident"`` → the model's verbose name; unknown labels unchanged."""
    if not label:
        return ""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return label
    return str(model._meta.verbose_name)


def object_type_choices() -> list[tuple[str, str]]:
    """Every Fengqiao model (and the user model), by verbose name, for the filter."""
    choices = [
        (model._meta.label, str(model._meta.verbose_name))
        for model in apps.get_models()
        if model.__module__.startswith("fengqiao.")
    ]
    return sorted(choices, key=lambda c: c[1])


def field_label(object_type: str, attname: str) -> str:
    """The verbose name of a field of ``object_type`` for the change table; the key if unknown."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return attname
    for field in model._meta.get_fields():
        if getattr(field, "attname", None) == attname or field.name == attname:
            return str(getattr(field, "verbose_name", attname))
    return attname
