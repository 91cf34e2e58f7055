"""The built-in roles (see /work/helpers/ROLES.md for the contract) and their installation.

Each built-in role has a fixed code, a name (English msgid, shown translated),
a data scope and a list of permission names ``"app_label.codename"``. An
entry may be a pattern with ``*`` (``"registry.view_*"``, ``"*"`` for every
permission of Fengqiao's own apps), expanded against the permissions that
exist when ``sync_builtin_roles`` runs. An exact name that does not exist is
an error: a typo must not silently grant nothing.

Later features add their permissions here and run ``manage.py sync_roles``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from fengqiao.core.scope import DataScope

from .models import Role

# Labels defined in fengqiao.core (no catalogue of its own) and custom
# permission names of other apps, translated in this app's catalogue.
_EXTRA_MSGIDS = (
    gettext_noop("All data"),
    gettext_noop("Selected units and below"),
    gettext_noop("Own unit only"),
    gettext_noop("Own unit and below"),
    gettext_noop("Grids I am responsible for"),
    gettext_noop("Own records only"),
    gettext_noop("Can reveal residents' personal data"),
    gettext_noop("Can export audit events"),
)


@dataclass(frozen=True)
class BuiltinRole:
    code: str
    name: Promise
    data_scope: str
    permissions: tuple[str, ...]
    description: Promise | str = ""


#: read-only access to the shared reference data every working role needs
_REGION_VIEW = ("regions.view_region",)
_REGISTRY_VIEW = (
    "registry.view_household",
    "registry.view_resident",
    "registry.view_place",
    "registry.view_organisation",
    "registry.view_specialgroup",
    "registry.view_groupmembership",
)
_REGISTRY_EDIT = (
    *_REGISTRY_VIEW,
    "registry.add_household",
    "registry.change_household",
    "registry.add_resident",
    "registry.change_resident",
    "registry.add_place",
    "registry.change_place",
    "registry.add_organisation",
    "registry.change_organisation",
    "registry.add_groupmembership",
    "registry.change_groupmembership",
    "registry.delete_groupmembership",
)
_REVEAL = ("registry.reveal_resident",)
#: members of sensitive special groups (community correction, severe mental illness...)
_SENSITIVE = ("registry.view_sensitive_specialgroup",)
#: visits and household colour tiers (fengqiao.grid)
_GRID_VIEW = ("grid.view_visit", "grid.view_assessment", "grid.view_householdtier", "grid.view_assessmentmodel")
_GRID_VISIT = (*_GRID_VIEW, "grid.add_visit", "grid.add_assessment")
#: mediation and volunteer teams (fengqiao.teams): members, patrols, findings reported as cases
_TEAMS_VIEW = ("teams.view_teammember", "teams.view_patrolrecord", "teams.view_patrolfinding")
_TEAMS_EDIT = (
    *_TEAMS_VIEW,
    "teams.add_teammember",
    "teams.change_teammember",
    "teams.reveal_teammember",
    "teams.add_patrolrecord",
    "teams.change_patrolrecord",
    "teams.add_patrolfinding",
)
#: a team member's own account (its unit is the team): patrols and findings of the own team
_TEAMS_MEMBER = (*_TEAMS_VIEW, "teams.add_patrolrecord", "teams.add_patrolfinding")
_GRID_ADMIN = (
    "units.view_gridassignment",
    "units.add_gridassignment",
    "units.change_gridassignment",
    "units.delete_gridassignment",
)
_CASE_VIEW = ("cases.view_case", "cases.view_category", "cases.view_attachment")
_CASE_HANDLE = (*_CASE_VIEW, "cases.add_case", "cases.handle_case")
_DUTY = ("cases.view_dutyalert", "cases.acknowledge_case")
_CASE_CENTRE = (
    *_CASE_HANDLE,
    *_DUTY,
    "cases.triage_case",
    "cases.review_case",
    "cases.supervise_case",
    "cases.approve_extension_case",
    "cases.reveal_case",
)
_LEADER_VIEW = (
    "regions.view_*",
    "units.view_*",
    *_REGISTRY_VIEW,
    "accounts.view_user",
    *_CASE_VIEW,
    *_GRID_VIEW,
    *_TEAMS_VIEW,
)
_CENTRE = (
    "regions.view_*",
    "units.view_*",
    *_GRID_ADMIN,
    *_REGISTRY_EDIT,
    *_SENSITIVE,
    "accounts.view_user",
    *_CASE_CENTRE,
    *_GRID_VIEW,
    *_TEAMS_EDIT,
)

BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole("admin", _("System administrator"), DataScope.ALL, ("*",), _("Every permission, on all data.")),
    BuiltinRole(
        "auditor",
        _("Auditor"),
        DataScope.ALL,
        ("*.view_*", "audit.export_auditevent"),
        _("Reads everything and exports the audit log; changes nothing."),
    ),
    BuiltinRole(
        "district_leader", _("District leader"), DataScope.ALL, _LEADER_VIEW, _("Views all data of the district.")
    ),
    BuiltinRole(
        "district_centre",
        _("District governance centre"),
        DataScope.UNIT_AND_BELOW,
        (
            *_CENTRE,
            "cases.dispatch_case",
            "cases.add_category",
            "cases.change_category",
            "cases.delete_category",
            "intake.view_submission",  # the intake inbox: reports that could not be registered
            "intake.change_submission",
            "grid.add_assessmentmodel",
            "registry.add_specialgroup",
            "registry.change_specialgroup",
            "workdays.view_calendarday",
            "workdays.change_calendarday",
            "workdays.view_calendaryear",
            "workdays.change_calendaryear",
            "webhooks.view_subscription",
            "webhooks.add_subscription",
            "webhooks.change_subscription",
            "webhooks.delete_subscription",
        ),
    ),
    BuiltinRole("street_centre", _("Street governance centre"), DataScope.UNIT_AND_BELOW, _CENTRE),
    BuiltinRole(
        "street_leader",
        _("Street leader"),
        DataScope.UNIT_AND_BELOW,
        (*_LEADER_VIEW, "cases.approve_escalation_case", "cases.supervise_case", "cases.view_dutyalert"),
        _("Principal leader of a street; approves escalations to the district."),
    ),
    BuiltinRole(
        "community_centre",
        _("Community governance centre"),
        DataScope.UNIT_AND_BELOW,
        (
            *_REGION_VIEW,
            "units.view_unit",
            "units.view_gridassignment",
            *_REGISTRY_EDIT,
            *_REVEAL,
            *_SENSITIVE,
            "accounts.view_user",
            *_CASE_HANDLE,
            *_DUTY,
            *_GRID_VIEW,
            *_TEAMS_EDIT,
            "cases.triage_case",
            "cases.review_case",
            "cases.reveal_case",
        ),
    ),
    BuiltinRole(
        "grid_worker",
        _("Grid worker"),
        DataScope.GRIDS,
        (
            *_REGION_VIEW,
            "units.view_gridassignment",
            *_REGISTRY_EDIT,
            *_REVEAL,
            *_SENSITIVE,
            *_CASE_HANDLE,
            *_GRID_VISIT,
        ),
        _("Sees the grids they are responsible for."),
    ),
    BuiltinRole(
        "community_police",
        _("Community police officer"),
        DataScope.GRIDS,
        (
            *_REGION_VIEW,
            "units.view_gridassignment",
            *_REGISTRY_VIEW,
            *_REVEAL,
            *_SENSITIVE,
            *_CASE_HANDLE,
            *_GRID_VISIT,
        ),
        _("Sees the grids they are responsible for."),
    ),
    BuiltinRole(
        "department_handler",
        _("Department handler"),
        DataScope.UNIT,
        # also the role of a team member's account (its unit is the team): the team's cases and patrols
        (*_REGION_VIEW, "units.view_unit", *_CASE_HANDLE, *_TEAMS_MEMBER),
    ),
    BuiltinRole(
        "command_room",
        _("Police command room"),
        DataScope.UNIT_AND_BELOW,
        (*_REGION_VIEW, "units.view_unit", "units.view_gridassignment", *_REGISTRY_VIEW, *_CASE_VIEW, *_GRID_VIEW),
    ),
    BuiltinRole(
        "risk_analyst",
        _("Risk analyst"),
        DataScope.UNIT_AND_BELOW,
        (*_REGION_VIEW, "units.view_unit", *_REGISTRY_VIEW),
    ),
    BuiltinRole("judge", _("Enforcement judge"), DataScope.UNIT, (*_REGION_VIEW, "units.view_unit")),
)

_BY_CODE = {role.code: role for role in BUILTIN_ROLES}


def builtin_name(code: str) -> str:
    """The translated name of a built-in role, "" for other codes."""
    role = _BY_CODE.get(code)
    return str(role.name) if role else ""


def fengqiao_app_labels() -> list[str]:
    """Labels of Fengqiao's own apps (those whose permissions roles may grant)."""
    return sorted(cfg.label for cfg in apps.get_app_configs() if cfg.name.startswith("fengqiao."))


def available_permissions() -> dict[str, Permission]:
    """Every permission of Fengqiao's apps, by ``"app_label.codename"``."""
    perms = Permission.objects.filter(content_type__app_label__in=fengqiao_app_labels()).select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}": p for p in perms}


def expand_permissions(entries: tuple[str, ...] | list[str], available: dict[str, Permission]) -> set[str]:
    """Resolve names and ``*`` patterns against ``available``; unknown exact names raise."""
    result: set[str] = set()
    unknown: list[str] = []
    for entry in entries:
        if "*" in entry:
            result.update(name for name in available if fnmatch.fnmatchcase(name, entry))
        elif entry in available:
            result.add(entry)
        else:
            unknown.append(entry)
    if unknown:
        raise ImproperlyConfigured(
            "Unknown permission(s) in the built-in roles: "
            + ", ".join(sorted(unknown))
            + ". Use 'app_label.codename' of an existing model permission (did you run migrate?)."
        )
    return result


@transaction.atomic
def sync_builtin_roles(*, reset: bool = False) -> dict[str, Role]:
    """Create or update the built-in roles; idempotent.

    Permissions added to a role in this file since the last sync are added,
    those removed from it are removed, and permissions an administrator added
    or removed by hand are kept as they are, unless ``reset`` restores every
    built-in role to exactly its definition. Name and data scope always follow
    this file.
    """
    from fengqiao.audit.services import record

    available = available_permissions()
    wanted_by_code = {role.code: expand_permissions(role.permissions, available) for role in BUILTIN_ROLES}
    result: dict[str, Role] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for spec in BUILTIN_ROLES:
            wanted = wanted_by_code[spec.code]
            role, created = Role.objects.get_or_create(
                code=spec.code,
                defaults={
                    "name": str(spec.name),
                    "description": str(spec.description),
                    "data_scope": spec.data_scope,
                    "is_builtin": True,
                },
            )
            current = {
                f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")
            }
            if created or reset:
                target = set(wanted)
            else:
                previous = set(role.synced_permissions or [])
                target = (current | (wanted - previous)) - (previous - wanted)
            changes: dict[str, object] = {}
            for attr, value in (
                ("name", str(spec.name)),
                ("description", str(spec.description)),
                ("data_scope", str(spec.data_scope)),
                ("is_builtin", True),
                ("synced_permissions", sorted(wanted)),
            ):
                if getattr(role, attr) != value:
                    changes[attr] = value
                    setattr(role, attr, value)
            if changes:
                role.save()
            if target != current:
                role.permissions.set([available[name] for name in target])
            if created or changes or target != current:
                record(
                    "accounts.role.sync",
                    obj=role,
                    detail={
                        "created": created,
                        "added": sorted(target - current),
                        "removed": sorted(current - target),
                        "fields": sorted(k for k in changes if k != "synced_permissions"),
                    },
                )
            result[spec.code] = role
    return result
