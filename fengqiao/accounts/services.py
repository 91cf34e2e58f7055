"""Writes for staff accounts and roles. Every function is atomic and audited.

Authorisation, on top of the model permission (``accounts.add_user`` ...):

- an actor creates and edits only users inside their own data scope
  (``User.objects.restrict(actor, "change")``), and only in units inside it;
- an actor assigns only roles they may view, and never grants a permission
  they do not hold or a data scope wider than their own (see policy.py);
- an actor cannot manage an account that holds more than they do (its
  password would be the actor's way to the wider access).

Refusals for lack of permission or out-of-scope targets raise
``PermissionDenied``; input problems and refused grants raise
``ValidationError`` keyed by form field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fengqiao.audit.services import changed, record, snapshot
from fengqiao.core.scope import DataScope
from fengqiao.units.models import Unit

from . import lockout, policy
from .models import Role, RoleRow, User
from .permissions import perm_label
from .roles import available_permissions
from .selectors import units_for_users


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")


# --- helpers -------------------------------------------------------------------------------


def _require(actor: Any, perm: str, message: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise PermissionDenied(message)


def _labels(perms: Iterable[str]) -> str:
    return "、".join(perm_label(name) for name in perms)


def _escalation_errors(missing: list[str], wider: list[str]) -> list[str]:
    errors = []
    if missing:
        errors.append(
            _("You cannot grant permissions you do not hold yourself: %(perms)s.") % {"perms": _labels(missing)}
        )
    if wider:
        errors.append(
            _("The data scope would be wider than your own for: %(perms)s. Choose a narrower role or unit.")
            % {"perms": _labels(wider)}
        )
    return errors


def unit_allowed(actor: Any, unit: Unit, action: str) -> bool:
    """Whether ``actor``'s ``accounts.<action>_user`` scope reaches users of ``unit``."""
    return units_for_users(actor, action).filter(pk=unit.pk).exists()


def _user_grants(user: User, *, unit: Any = UNSET, roles: Iterable[Role] | Any = UNSET) -> dict[str, list[Any]]:
    """The grants ``user`` has (or would have with another unit / other roles), active or not."""
    the_unit = user.unit if unit is UNSET else unit
    the_roles = list(user.roles.all()) if roles is UNSET else list(roles)
    grids = policy.current_grid_paths([user.pk]).get(user.pk, ()) if user.pk else ()
    return policy.grants_by_perm(policy.role_rows(the_roles), user_id=user.pk, unit=the_unit, grid_paths=grids)


def check_can_manage(actor: Any, user: User) -> None:
    """Refuse unless ``actor`` may change ``user``'s account (see the module docstring)."""
    _require(actor, "accounts.change_user", _("You do not have permission to change staff accounts."))
    if not User.objects.restrict(actor, "change").filter(pk=user.pk).exists():
        raise PermissionDenied(_("This account is outside your data scope."))
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied(_("Only a superuser can change a superuser's account."))
    if actor.is_superuser or actor.pk == user.pk:
        return
    missing, wider = policy.uncovered(actor, _user_grants(user))
    if missing or wider:
        raise PermissionDenied(
            _(
                "%(user)s holds permissions or a data scope beyond your own (%(perms)s); "
                "ask an administrator who holds them to change this account."
            )
            % {"user": user, "perms": _labels(missing + wider)}
        )


def _check_roles(actor: Any, user: User, unit: Unit | None, roles: Sequence[Role], previous: Iterable[Role]) -> None:
    """Refuse roles the actor may not see, and grants beyond the actor's own."""
    previous_ids = {role.pk for role in previous}
    changed_roles = {role.pk for role in roles} ^ previous_ids
    if changed_roles:
        visible: set[int] = set(
            Role.objects.restrict(actor, "view").filter(pk__in=changed_roles).values_list("pk", flat=True)
        )
        hidden = changed_roles - visible
        if hidden:
            names = "、".join(str(role) for role in Role.objects.filter(pk__in=hidden))
            raise ValidationError(
                {"roles": _("You may not assign or remove these roles: %(roles)s.") % {"roles": names}}
            )
    if actor.is_superuser:
        return
    missing, wider = policy.uncovered(actor, _user_grants(user, unit=unit, roles=roles))
    errors = _escalation_errors(missing, wider)
    if errors:
        raise ValidationError({"roles": errors})


def _validate_phone(phone: str) -> str:
    phone = phone.strip()
    if phone and not _PHONE.match(phone):
        raise ValidationError(
            {"phone": _("Enter a phone number with digits only, for example 13800138000 or 0755-12345678.")}
        )
    return phone


def _full_clean(user: User) -> None:
    try:
        user.full_clean(exclude=["password", "roles"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _record(action: str, *, actor: Any, obj: Model, before: Any = None, after: Any = None, **kw: Any) -> None:
    if before is not None and after is not None:
        before, after = changed(before, after)
    if isinstance(obj, User) and obj.unit_id is not None:
        # a user's events belong to the place of the user's unit, so local administrators see them
        kw.setdefault("region_path", obj.unit.region_path if obj.unit else "")
    record(action, actor=actor, obj=obj, before=before, after=after, **kw)


# --- users ---------------------------------------------------------------------------------


@transaction.atomic
def create_user(
    *,
    actor: Any,
    username: str,
    display_name: str,
    unit: Unit | None,
    roles: Sequence[Role],
    password: str | None = None,
    phone: str = "",
    email: str = "",
) -> User:
    """Create a staff account in ``unit`` with ``roles``.

    Without a password the account cannot log in until ``reset_password``.
    """
    _require(actor, "accounts.add_user", _("You do not have permission to create staff accounts."))
    if unit is None:
        raise ValidationError(
            {"unit": _("Every staff account belongs to a unit. Choose the unit this person works in.")}
        )
    if not unit_allowed(actor, unit, "add"):
        raise ValidationError(
            {
                "unit": _("The unit “%(unit)s” is outside your data scope; choose one of your own units.")
                % {"unit": unit}
            }
        )
    user = User(
        username=(username or "").strip(),
        display_name=(display_name or "").strip(),
        phone=_validate_phone(phone or ""),
        email=(email or "").strip(),
        unit=unit,
    )
    if password:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    _full_clean(user)
    roles = list(roles)
    _check_roles(actor, user, unit, roles, previous=())
    user.save()
    user.roles.set(roles)
    _record("accounts.user.create", actor=actor, obj=user, after=snapshot(user))
    return user


@transaction.atomic
def update_user(
    *,
    actor: Any,
    user: User,
    display_name: str | Any = UNSET,
    phone: str | Any = UNSET,
    email: str | Any = UNSET,
    unit: Unit | Any | None = UNSET,
    roles: Sequence[Role] | Any = UNSET,
) -> User:
    """Change an account's details, unit and/or roles (arguments left out stay as they are)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    check_can_manage(actor, user)
    before = snapshot(user)
    old_roles = list(user.roles.all())
    if display_name is not UNSET:
        user.display_name = (display_name or "").strip()
    if phone is not UNSET:
        user.phone = _validate_phone(phone or "")
    if email is not UNSET:
        user.email = (email or "").strip()
    new_unit = user.unit if unit is UNSET else unit
    if unit is not UNSET and unit != user.unit:
        if unit is None:
            raise ValidationError(
                {"unit": _("Every staff account belongs to a unit. Choose the unit this person works in.")}
            )
        if not unit_allowed(actor, unit, "change"):
            raise ValidationError(
                {
                    "unit": _("The unit “%(unit)s” is outside your data scope; choose one of your own units.")
                    % {"unit": unit}
                }
            )
        user.unit = unit
    new_roles = old_roles if roles is UNSET else list(roles)
    if roles is not UNSET or unit is not UNSET:
        _check_roles(actor, user, new_unit, new_roles, previous=old_roles)
    _full_clean(user)
    user.save()
    if roles is not UNSET:
        user.roles.set(new_roles)
    after = snapshot(user)
    if before != after:
        _record("accounts.user.update", actor=actor, obj=user, before=before, after=after)
    if getattr(actor, "pk", None) == user.pk:
        actor.clear_grant_cache()
    user.clear_grant_cache()
    return user


def set_roles(*, actor: Any, user: User, roles: Sequence[Role]) -> User:
    return update_user(actor=actor, user=user, roles=roles)


@transaction.atomic
def deactivate_user(*, actor: Any, user: User) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    check_can_manage(actor, user)
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot deactivate your own account; ask another administrator."))
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active"])
    _record("accounts.user.deactivate", actor=actor, obj=user, before={"is_active": True}, after={"is_active": False})
    return user


@transaction.atomic
def reactivate_user(*, actor: Any, user: User) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    check_can_manage(actor, user)
    if user.is_active:
        return user
    if user.unit_id is None and not user.is_superuser:
        raise ValidationError({"unit": _("Give this account a unit before reactivating it.")})
    user.is_active = True
    user.save(update_fields=["is_active"])
    _record("accounts.user.reactivate", actor=actor, obj=user, before={"is_active": False}, after={"is_active": True})
    return user


@transaction.atomic
def reset_password(*, actor: Any, user: User, password: str) -> User:
    """Set a new password for someone else's account (the person should change it at first login)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    check_can_manage(actor, user)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    lockout.unlock(user.get_username())
    _record("accounts.user.reset_password", actor=actor, obj=user)
    return user


@transaction.atomic
def change_own_password(*, user: User, old_password: str, new_password: str) -> User:
    if not user.check_password(old_password or ""):
        raise ValidationError({"old_password": _("Your current password is not correct. Please enter it again.")})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password1": exc.messages}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _record("accounts.user.change_password", actor=user, obj=user)
    return user


@transaction.atomic
def unlock_login(*, actor: Any, user: User) -> None:
    """Lift a login lockout (after too many failed logins) for ``user`` from every address."""
    check_can_manage(actor, user)
    lockout.unlock(user.get_username())
    _record("accounts.user.unlock", actor=actor, obj=user)


# --- roles ---------------------------------------------------------------------------------


def _clean_role_fields(
    *, code: str | None, name: str, data_scope: str, permissions: Iterable[str], custom_units: Sequence[Unit]
) -> tuple[set[str], list[Unit]]:
    errors: dict[str, list[str]] = {}
    if code is not None and not re.fullmatch(r"[a-z0-9_-]{2,50}", code):
        errors.setdefault("code", []).append(
            _("Use 2 to 50 lowercase letters, digits, “_” or “-” for the code, for example street_helpdesk.")
        )
    if not (name or "").strip():
        errors.setdefault("name", []).append(_("Give the role a name."))
    if data_scope not in DataScope.values:
        errors.setdefault("data_scope", []).append(_("Choose a data scope from the list."))
    available = available_permissions()
    wanted = set(permissions)
    unknown = sorted(wanted - set(available))
    if unknown:
        errors.setdefault("permissions", []).append(
            _("Unknown permissions: %(perms)s. Reload the page and try again.") % {"perms": ", ".join(unknown)}
        )
    units = list(custom_units)
    if data_scope == DataScope.CUSTOM and not units:
        errors.setdefault("custom_units", []).append(
            _("A role with the “selected units” data scope needs at least one unit. Choose the units it covers.")
        )
    if errors:
        raise ValidationError(errors)
    return wanted, (units if data_scope == DataScope.CUSTOM else [])


def _check_definition(actor: Any, perms: Iterable[str], data_scope: str, units: Sequence[Unit], field: str) -> None:
    if actor.is_superuser:
        return
    missing, wider = policy.definition_uncovered(actor, perms, data_scope, [u.region_path for u in units])
    errors = _escalation_errors(missing, wider)
    if errors:
        raise ValidationError({field: errors})


def _role_perm_names(role: Role) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")}


def check_can_edit_role(actor: Any, role: Role, perm: str = "accounts.change_role") -> None:
    _require(actor, perm, _("You do not have permission to manage roles."))
    if actor.is_superuser:
        return
    missing, wider = policy.definition_uncovered(
        actor, _role_perm_names(role), role.data_scope, role.custom_units.values_list("region_path", flat=True)
    )
    if missing or wider:
        raise PermissionDenied(
            _(
                "The role “%(role)s” holds permissions or a data scope beyond your own; "
                "only someone who holds them can change it."
            )
            % {"role": role}
        )


@transaction.atomic
def create_role(
    *,
    actor: Any,
    code: str,
    name: str,
    data_scope: str,
    permissions: Iterable[str] = (),
    custom_units: Sequence[Unit] = (),
    description: str = "",
) -> Role:
    _require(actor, "accounts.add_role", _("You do not have permission to manage roles."))
    code = (code or "").strip()
    perms, units = _clean_role_fields(
        code=code, name=name, data_scope=data_scope, permissions=permissions, custom_units=custom_units
    )
    if Role.objects.filter(code=code).exists():
        raise ValidationError(
            {"code": _("A role with the code “%(code)s” already exists; choose another code.") % {"code": code}}
        )
    _check_definition(actor, perms, data_scope, units, "permissions")
    role = Role.objects.create(
        code=code, name=name.strip(), description=(description or "").strip(), data_scope=data_scope
    )
    available = available_permissions()
    role.permissions.set([available[p] for p in perms])
    role.custom_units.set(units)
    _record("accounts.role.create", actor=actor, obj=role, after=snapshot(role))
    return role


def _check_holders(actor: Any, role: Role, perms: set[str], data_scope: str, units: Sequence[Unit]) -> None:
    """The role's current holders must not gain more than the actor holds."""
    if actor.is_superuser:
        return
    custom = tuple(sorted((u.pk, u.region_path) for u in units))
    old_perms = _role_perm_names(role)
    old_custom = tuple(sorted(role.custom_units.values_list("pk", "region_path")))
    scope_changed = data_scope != role.data_scope or custom != old_custom
    affected = perms if scope_changed else perms - old_perms
    if not affected:
        return
    if all(
        (held := policy.actor_grants(actor, perm)) is policy.EVERYTHING
        or any(g.scope == DataScope.ALL for g in held or [])
        for perm in affected
    ):
        return
    holders = list(role.users.select_related("unit"))
    grids = policy.current_grid_paths([u.pk for u in holders]) if data_scope == DataScope.GRIDS else {}
    row = RoleRow(data_scope, frozenset(affected), custom, role.pk)
    wider: set[str] = set()
    missing: set[str] = set()
    for holder in holders:
        m, w = policy.uncovered(
            actor,
            policy.grants_by_perm([row], user_id=holder.pk, unit=holder.unit, grid_paths=grids.get(holder.pk, ())),
        )
        missing.update(m)
        wider.update(w)
    errors = _escalation_errors(sorted(missing), sorted(wider))
    if errors:
        raise ValidationError(
            {"permissions": [*errors, _("(The role is held by people whose access would grow beyond yours.)")]}
        )


@transaction.atomic
def update_role(
    *,
    actor: Any,
    role: Role,
    name: str | Any = UNSET,
    description: str | Any = UNSET,
    permissions: Iterable[str] | Any = UNSET,
    data_scope: str | Any = UNSET,
    custom_units: Sequence[Unit] | Any = UNSET,
) -> Role:
    """Edit a role. Built-in roles keep their code, name and data scope; their permissions are editable."""
    role = Role.objects.select_for_update().get(pk=role.pk)
    check_can_edit_role(actor, role)
    before = snapshot(role)
    new_name = role.name if name is UNSET else name
    new_scope = role.data_scope if data_scope is UNSET else data_scope
    new_perms_in = _role_perm_names(role) if permissions is UNSET else set(permissions)
    new_units_in = list(role.custom_units.all()) if custom_units is UNSET else list(custom_units)
    if role.is_builtin:
        errors = {}
        if name is not UNSET and (name or "").strip() != role.name:
            errors["name"] = _("The name of a built-in role cannot be changed; create a new role instead.")
        if new_scope != role.data_scope:
            errors["data_scope"] = _("The data scope of a built-in role is fixed; create a new role instead.")
        if errors:
            raise ValidationError(errors)
    perms, units = _clean_role_fields(
        code=None, name=new_name, data_scope=new_scope, permissions=new_perms_in, custom_units=new_units_in
    )
    _check_definition(actor, perms, new_scope, units, "permissions")
    _check_holders(actor, role, perms, new_scope, units)
    role.name = new_name.strip()
    if description is not UNSET:
        role.description = (description or "").strip()
    role.data_scope = new_scope
    role.save()
    available = available_permissions()
    role.permissions.set([available[p] for p in perms])
    role.custom_units.set(units)
    after = snapshot(role)
    if before != after:
        _record("accounts.role.update", actor=actor, obj=role, before=before, after=after)
    if actor.roles.filter(pk=role.pk).exists():
        actor.clear_grant_cache()
    return role


@transaction.atomic
def delete_role(*, actor: Any, role: Role) -> None:
    role = Role.objects.select_for_update().get(pk=role.pk)
    check_can_edit_role(actor, role, perm="accounts.delete_role")
    if role.is_builtin:
        raise ValidationError(_("Built-in roles cannot be deleted. You can remove permissions from them instead."))
    holders = role.users.count()
    if holders:
        raise ValidationError(
            ngettext(
                "%(count)d person still holds the role “%(role)s”. Take it away from them first, then delete it.",
                "%(count)d people still hold the role “%(role)s”. Take it away from them first, then delete it.",
                holders,
            )
            % {"count": holders, "role": role}
        )
    before = snapshot(role)
    _record("accounts.role.delete", actor=actor, obj=role, before=before)
    role.delete()
