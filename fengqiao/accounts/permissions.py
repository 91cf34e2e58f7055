"""Permission names, labels and the matrix shown on the role form."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .roles import available_permissions

STANDARD_ACTIONS = ("view", "add", "change", "delete")
ACTION_LABELS = {
    "view": _("View"),
    "add": _("Add"),
    "change": _("Change"),
    "delete": _("Delete"),
}


def perm_name(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def perm_label(name: str, permission: Permission | None = None) -> str:
    """A readable label for ``"app.codename"``: "resident · view" or the custom permission's name."""
    app_label, _sep, codename = name.partition(".")
    action, _sep, model_name = codename.partition("_")
    try:
        model = apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        model = None
    if model is not None and action in ACTION_LABELS:
        return f"{model._meta.verbose_name} · {ACTION_LABELS[action]}"
    if permission is not None:
        return gettext(permission.name)
    return name


@dataclass
class Cell:
    name: str
    label: str
    checked: bool


@dataclass
class ModelRow:
    label: str
    cells: list[Cell | None]  # one per STANDARD_ACTIONS, None when the model has no such permission
    extra: list[Cell] = field(default_factory=list)


@dataclass
class AppGroup:
    label: str
    rows: list[ModelRow]


def permission_matrix(selected: set[str] | frozenset[str]) -> list[AppGroup]:
    """Fengqiao's permissions grouped by app and model, standard actions as columns."""
    by_model: dict[tuple[str, str], dict[str, Permission]] = {}
    for name, permission in available_permissions().items():
        key = (permission.content_type.app_label, permission.content_type.model)
        by_model.setdefault(key, {})[name] = permission
    groups: dict[str, AppGroup] = {}
    for (app_label, model_name), perms in sorted(by_model.items()):
        model = apps.get_model(app_label, model_name)
        cells: list[Cell | None] = []
        standard: set[str] = set()
        for action in STANDARD_ACTIONS:
            name = f"{app_label}.{action}_{model_name}"
            if name in perms:
                cells.append(Cell(name, str(ACTION_LABELS[action]), name in selected))
                standard.add(name)
            else:
                cells.append(None)
        extra = [
            Cell(name, gettext(perms[name].name), name in selected) for name in sorted(perms) if name not in standard
        ]
        group = groups.get(app_label)
        if group is None:
            group = groups[app_label] = AppGroup(str(apps.get_app_config(app_label).verbose_name), [])
        group.rows.append(ModelRow(str(model._meta.verbose_name_plural), cells, extra))
    return list(groups.values())
