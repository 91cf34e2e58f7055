"""Writes to the registry of households and residents, and the logged reveal of personal data.

Every write validates, writes and audits in one transaction. Personal fields
are validated (resident ID number, phone), encrypted on save, and appear in
the audit log only masked. A resident's ``region_path`` is always copied from
its grid, and the row must lie inside the actor's data scope for the action
("add" or "change"), checked on the saved row so that the rule is the very
same one ``restrict()`` applies when reading.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.models import Category
from fengqiao.audit.services import changed, record, snapshot
from fengqiao.core.personal import EncryptedTextField, index_for, reveal_field
from fengqiao.core.validators import validate_phone, validate_resident_id
from fengqiao.regions.models import Level, Region

from .groups import SENSITIVE_PERMISSION
from .models import Gender, GroupMembership, Household, Resident, SpecialGroup

#: personal fields of a resident that can be revealed (decrypted) on request
REVEALABLE_FIELDS = ("name", "id_number", "phone")
REVEAL_PERMISSION = "registry.reveal_resident"

NAME_MAX = 50
RELATION_MAX = 20
ADDRESS_MAX = 200


class _Keep:
    """Marker for "leave this as it is" where None is a meaningful value."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def personal_snapshot(instance: models.Model | None) -> dict[str, Any] | None:
    """The audit picture of a registry row: masks instead of ciphertext, no blind indexes."""
    if instance is None:
        return None
    names = [
        f.name
        for f in instance._meta.concrete_fields
        if not isinstance(f, EncryptedTextField) and not f.name.endswith("_index")
    ]
    return snapshot(instance, fields=names)


# --- reveal -----------------------------------------------------------------------


def reveal_personal_field(*, actor: Any, obj: Resident, field: str, reason: str = "") -> str:
    """The plaintext of one personal field of a resident, for a user who may see it.

    Needs the permission ``registry.reveal_resident`` and the resident inside
    ``Resident.objects.restrict(actor, "view")``; otherwise ``PermissionDenied``
    (show it as 404). Writes one access event ("pii.reveal", detail {field, reason}).
    """
    if field not in REVEALABLE_FIELDS:
        raise ValueError(f"{field!r} cannot be revealed")
    return reveal_field(
        actor=actor,
        queryset=Resident.objects.restrict(actor, "view"),
        permission=REVEAL_PERMISSION,
        obj=obj,
        field=field,
        reason=reason,
    )


# --- shared checks ----------------------------------------------------------------


def check_grid(grid: Region | None) -> Region:
    """A resident or household belongs to a current grid (the lowest level of the region tree)."""
    if grid is None:
        raise ValidationError({"grid": _("Choose the grid this person or household belongs to.")})
    if grid.level != Level.GRID:
        raise ValidationError(
            {
                "grid": _("“%(name)s” is a %(level)s, not a grid. Choose a grid (the lowest level of the region tree).")
                % {"name": grid.name, "level": Level(grid.level).label}
            }
        )
    if grid.valid_to is not None and grid.valid_to <= timezone.localdate():
        raise ValidationError(
            {"grid": _("The grid “%(name)s” is no longer in use. Choose a current grid.") % {"name": grid.name}}
        )
    return grid


def _require_in_scope(model: type[models.Model], actor: Any, action: str, pk: Any) -> None:
    """The saved row must be one the actor may ``action`` (same rule as reading)."""
    manager: Any = model._default_manager
    if not manager.restrict(actor, action).filter(pk=pk).exists():
        raise PermissionDenied


def _check_coordinates(lng: float | None, lat: float | None, errors: dict[str, list[str]]) -> None:
    if (lng is None) != (lat is None):
        errors.setdefault("lng", []).append(_("Enter both longitude and latitude, or neither."))
        return
    if lng is not None and not -180 <= lng <= 180:
        errors.setdefault("lng", []).append(_("Longitude must be between -180 and 180."))
    if lat is not None and not -90 <= lat <= 90:
        errors.setdefault("lat", []).append(_("Latitude must be between -90 and 90."))


# --- households -------------------------------------------------------------------


def _next_household_number(grid: Region) -> str:
    existing = set(Household.objects.filter(number__startswith=grid.path).values_list("number", flat=True))
    seq = len(existing) + 1
    while f"{grid.path}{seq:04d}" in existing:
        seq += 1
    return f"{grid.path}{seq:04d}"


@transaction.atomic
def create_household(
    *,
    actor: Any,
    grid: Region | None,
    address: str,
    number: str = "",
    lng: float | None = None,
    lat: float | None = None,
) -> Household:
    """Register a household (a dwelling) in a grid; the number is generated when not given."""
    errors: dict[str, list[str]] = {}
    try:
        grid = check_grid(grid)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    address = (address or "").strip()
    if not address:
        errors.setdefault("address", []).append(_("Enter the address of the household."))
    elif len(address) > ADDRESS_MAX:
        errors.setdefault("address", []).append(_("The address is too long (at most %d characters).") % ADDRESS_MAX)
    number = (number or "").strip()
    if number and Household.objects.filter(number=number).exists():
        errors.setdefault("number", []).append(
            _("The household number %(number)s is already in use. Leave it empty to get a new number.")
            % {"number": number}
        )
    _check_coordinates(lng, lat, errors)
    if errors:
        raise ValidationError(errors)
    assert grid is not None  # noqa: S101 - checked above
    household = Household(
        number=number or _next_household_number(grid),
        grid=grid,
        region_path=grid.path,
        address=address,
        lng=lng,
        lat=lat,
    )
    try:
        with transaction.atomic():
            household.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"number": _("The household number %(number)s is already in use.") % {"number": household.number}}
        ) from exc
    _require_in_scope(Household, actor, "add", household.pk)
    record("registry.household.create", actor=actor, obj=household, after=personal_snapshot(household))
    return household


@transaction.atomic
def update_household(
    *,
    actor: Any,
    household: Household,
    grid: Region | None = KEEP,
    address: str | None = None,
    lng: float | None = KEEP,
    lat: float | None = KEEP,
) -> Household:
    """Change a household; when it moves to another grid its members move with it."""
    try:
        current: Household = Household.objects.restrict(actor, "change").select_for_update().get(pk=household.pk)
    except Household.DoesNotExist as exc:
        raise PermissionDenied from exc
    before = personal_snapshot(current)
    errors: dict[str, list[str]] = {}
    if grid is not KEEP:
        try:
            current.grid = check_grid(grid)
            current.region_path = current.grid.path
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if address is not None:
        address = address.strip()
        if not address:
            errors.setdefault("address", []).append(_("Enter the address of the household."))
        elif len(address) > ADDRESS_MAX:
            errors.setdefault("address", []).append(_("The address is too long (at most %d characters).") % ADDRESS_MAX)
        current.address = address
    if lng is not KEEP:
        current.lng = lng
    if lat is not KEEP:
        current.lat = lat
    _check_coordinates(current.lng, current.lat, errors)
    if errors:
        raise ValidationError(errors)
    current.save()
    _require_in_scope(Household, actor, "change", current.pk)
    moved = 0
    if before and before.get("grid_id") != current.grid_id:
        moved = Resident.objects.filter(household=current).update(
            grid=current.grid, region_path=current.region_path, updated_at=timezone.now()
        )
    old, new = changed(before, personal_snapshot(current))
    record(
        "registry.household.update",
        actor=actor,
        obj=current,
        before=old,
        after=new,
        detail={"members_moved": moved} if moved else None,
    )
    return current


# --- residents --------------------------------------------------------------------


def _duplicate_message(actor: Any, existing: Resident) -> str:
    visible: Resident | None = (
        Resident.objects.restrict(actor, "view").filter(pk=existing.pk).select_related("grid").first()
    )
    if visible is not None:
        return _(
            "A resident with this ID number is already registered: %(name)s in %(grid)s. "
            "Edit that entry instead of adding a second one."
        ) % {"name": visible.name_masked, "grid": visible.grid.name}
    # outside the actor's scope: say that it exists, not where
    return _(
        "A resident with this ID number is already registered in another area. "
        "Ask the centre to transfer the entry instead of adding a second one."
    )


def _clean_id_number(
    actor: Any, value: str, exclude_pk: int | None, errors: dict[str, list[str]], warnings: list[str]
) -> tuple[str, datetime.date | None, str]:
    """(normalised number, birth date, gender) or ("", None, "") after an error / for no number."""
    value = (value or "").strip()
    if not value:
        return "", None, ""
    try:
        check = validate_resident_id(value)
    except ValidationError as exc:
        errors.setdefault("id_number", []).extend(exc.messages)
        return "", None, ""
    others = Resident.objects.filter(id_number_index=index_for("id_number", check.number))
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    existing = others.first()
    if existing is not None:
        errors.setdefault("id_number", []).append(_duplicate_message(actor, existing))
        return "", None, ""
    warnings.extend(check.warnings)
    return check.number, check.birth_date, check.gender


def _clean_phone(value: str, errors: dict[str, list[str]]) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return validate_phone(value)
    except ValidationError as exc:
        errors.setdefault("phone", []).extend(exc.messages)
        return ""


def _clean_name(value: str, errors: dict[str, list[str]]) -> str:
    value = (value or "").strip()
    if not value:
        errors.setdefault("name", []).append(_("Enter the resident's name."))
    elif len(value) > NAME_MAX:
        errors.setdefault("name", []).append(_("The name is too long (at most %d characters).") % NAME_MAX)
    return value


def _clean_household(
    actor: Any, household: Household | None, grid: Region | None, errors: dict[str, list[str]]
) -> None:
    if household is None:
        return
    if not Household.objects.restrict(actor, "view").filter(pk=household.pk).exists():
        errors.setdefault("household", []).append(_("No such household in your area."))
    elif grid is not None and household.grid_id != grid.pk:
        errors.setdefault("household", []).append(
            _("Household %(number)s is in another grid (%(grid)s). Choose that grid or another household.")
            % {"number": household.number, "grid": household.grid.name}
        )


def _clean_details(
    gender: str,
    birth_date: datetime.date | None,
    relation: str,
    from_id: tuple[datetime.date | None, str] | None,
    errors: dict[str, list[str]],
    warnings: list[str],
) -> tuple[str, datetime.date | None, str]:
    """Gender, birth date and relation; with an ID number (``from_id``: its birth
    date and gender) the ID's values win over what was typed."""
    gender = gender or ""
    if gender not in Gender.values:
        errors.setdefault("gender", []).append(_("Choose male, female or unknown."))
    if birth_date is not None and birth_date > timezone.localdate():
        errors.setdefault("birth_date", []).append(_("The date of birth cannot be in the future."))
    relation = (relation or "").strip()
    if len(relation) > RELATION_MAX:
        errors.setdefault("relation", []).append(_("The relation is too long (at most %d characters).") % RELATION_MAX)
    if from_id is not None:
        id_birth, id_gender = from_id
        if (birth_date is not None and birth_date != id_birth) or (gender and gender != id_gender):
            warnings.append(_("Gender and date of birth were taken from the ID number."))
        gender, birth_date = id_gender, id_birth
    return gender, birth_date, relation


def _save_resident(resident: Resident) -> None:
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError as exc:
        if "id_number" in str(exc) or "resident_id_number_unique" in str(exc):
            raise ValidationError({"id_number": _("A resident with this ID number is already registered.")}) from exc
        raise


@transaction.atomic
def create_resident(
    *,
    actor: Any,
    grid: Region | None,
    name: str,
    id_number: str = "",
    phone: str = "",
    gender: str = "",
    birth_date: datetime.date | None = None,
    relation: str = "",
    household: Household | None = None,
) -> tuple[Resident, list[str]]:
    """Register a resident. Returns the resident and warnings to show the user
    (e.g. an unusual region code in the ID number); raises ``ValidationError``
    keyed by field for anything that must be corrected."""
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    try:
        grid = check_grid(grid)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        grid = None
    name = _clean_name(name, errors)
    from_id = _clean_id_number(actor, id_number, None, errors, warnings)
    phone = _clean_phone(phone, errors)
    gender, birth_date, relation = _clean_details(
        gender, birth_date, relation, (from_id[1], from_id[2]) if from_id[0] else None, errors, warnings
    )
    _clean_household(actor, household, grid, errors)
    if errors:
        raise ValidationError(errors)
    assert grid is not None  # noqa: S101 - checked above
    resident = Resident(
        grid=grid,
        region_path=grid.path,
        household=household,
        name=name,
        id_number=from_id[0],
        phone=phone,
        gender=gender,
        birth_date=birth_date,
        relation=relation,
    )
    _save_resident(resident)  # encrypts: the instance holds only ciphertext and masks from here on
    _require_in_scope(Resident, actor, "add", resident.pk)
    record(
        "registry.resident.create",
        actor=actor,
        obj=resident,
        after=personal_snapshot(resident),
        detail={"warnings": warnings} if warnings else None,
    )
    return resident, warnings


@transaction.atomic
def update_resident(
    *,
    actor: Any,
    resident: Resident,
    grid: Region | None = KEEP,
    name: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    gender: str | None = None,
    birth_date: datetime.date | None = KEEP,
    relation: str | None = None,
    household: Household | None = KEEP,
) -> tuple[Resident, list[str]]:
    """Change a resident. Personal fields left as None keep their value (the
    edit form never shows them decrypted); ``phone=""`` and ``id_number=""``
    remove the value. Returns the resident and warnings, as ``create_resident``."""
    try:
        current: Resident = Resident.objects.restrict(actor, "change").select_for_update().get(pk=resident.pk)
    except Resident.DoesNotExist as exc:
        raise PermissionDenied from exc
    before = personal_snapshot(current)
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    if grid is not KEEP:
        try:
            current.grid = check_grid(grid)
            current.region_path = current.grid.path
        except ValidationError as exc:
            errors.update(exc.message_dict)
    new_name = _clean_name(name, errors) if name is not None else None
    from_id: tuple[str, datetime.date | None, str] = ("", None, "")
    if id_number is not None:
        from_id = _clean_id_number(actor, id_number, current.pk, errors, warnings)
    new_phone = _clean_phone(phone, errors) if phone is not None else None
    if id_number is not None:
        id_values = (from_id[1], from_id[2]) if from_id[0] else None
    elif current.id_number_index:
        # the kept ID number still decides: its birth date and gender were stored when it was entered
        id_values = (current.birth_date, current.gender)
    else:
        id_values = None
    new_gender, new_birth, new_relation = _clean_details(
        current.gender if gender is None else gender,
        current.birth_date if birth_date is KEEP else birth_date,
        current.relation if relation is None else relation,
        id_values,
        errors,
        warnings,
    )
    new_household = current.household if household is KEEP else household
    if household is not KEEP or grid is not KEEP:
        _clean_household(actor, new_household, current.grid if "grid" not in errors else None, errors)
    if errors:
        raise ValidationError(errors)
    if new_name is not None:
        current.name = new_name
    if id_number is not None:
        current.id_number = from_id[0]
    if new_phone is not None:
        current.phone = new_phone
    current.gender, current.birth_date, current.relation = new_gender, new_birth, new_relation
    current.household = new_household
    _save_resident(current)
    _require_in_scope(Resident, actor, "change", current.pk)
    old, new = changed(before, personal_snapshot(current))
    detail: dict[str, Any] = {}
    # A corrected ID number can keep its mask (only the hidden digits changed):
    # say which personal fields were written, whatever their masks show.
    written = [f for f, v in (("name", name), ("id_number", id_number), ("phone", phone)) if v is not None]
    if written:
        detail["personal_fields_written"] = written
    if warnings:
        detail["warnings"] = warnings
    record("registry.resident.update", actor=actor, obj=current, before=old, after=new, detail=detail or None)
    return current, warnings


@transaction.atomic
def record_export(*, actor: Any, model: type[models.Model], filters: dict[str, str], rows: int) -> None:
    """Log that a list with personal data (masked) was exported."""
    record(
        f"{model._meta.label_lower}.export",
        actor=actor,
        category=Category.ACCESS,
        detail={"filters": filters, "rows": rows},
    )


# --- special-group memberships ----------------------------------------------------

NOTE_MAX = 200


def may_see_group(actor: Any, group: SpecialGroup) -> bool:
    """Sensitive groups (community correction, severe mental illness...) need their own permission."""
    return not group.sensitive or bool(actor.has_perm(SENSITIVE_PERMISSION))


def _clean_membership(
    actor: Any,
    resident: Resident,
    group: SpecialGroup | None,
    since: datetime.date | None,
    until: datetime.date | None,
    note: str,
    exclude_pk: int | None,
) -> str:
    errors: dict[str, list[str]] = {}
    if group is None or not may_see_group(actor, group):
        errors.setdefault("group", []).append(_("Choose a special group."))
    elif not group.is_active and exclude_pk is None:
        errors.setdefault("group", []).append(_("The group “%(name)s” is no longer in use.") % {"name": group.name})
    if since is None:
        errors.setdefault("since", []).append(_("Enter the date from which the person belongs to the group."))
    elif since > timezone.localdate():
        errors.setdefault("since", []).append(_("The start date cannot be in the future."))
    if since is not None and until is not None and until < since:
        errors.setdefault("until", []).append(_("The end date cannot be before the start date."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors.setdefault("note", []).append(_("The note is too long (at most %d characters).") % NOTE_MAX)
    if not errors and group is not None and since is not None:
        overlapping = GroupMembership.objects.filter(resident=resident, group=group).filter(
            models.Q(until__isnull=True) | models.Q(until__gte=since)
        )
        if until is not None:
            overlapping = overlapping.filter(since__lte=until)
        if exclude_pk is not None:
            overlapping = overlapping.exclude(pk=exclude_pk)
        if overlapping.exists():
            errors.setdefault("group", []).append(
                _("This person already belongs to “%(name)s” in that period; change that entry instead.")
                % {"name": group.name}
            )
    if errors:
        raise ValidationError(errors)
    return note


def _locked_resident(actor: Any, resident: Resident) -> Resident:
    try:
        current: Resident = Resident.objects.restrict(actor, "change").select_for_update().get(pk=resident.pk)
    except Resident.DoesNotExist as exc:
        raise PermissionDenied from exc
    return current


def _membership_snapshot(m: GroupMembership) -> dict[str, Any]:
    return {
        "resident_id": m.resident_id,
        "group": m.group.code,
        "since": m.since.isoformat(),
        "until": m.until.isoformat() if m.until else None,
        "note": m.note,
    }


@transaction.atomic
def add_membership(
    *,
    actor: Any,
    resident: Resident,
    group: SpecialGroup | None,
    since: datetime.date | None,
    until: datetime.date | None = None,
    note: str = "",
) -> GroupMembership:
    """Put a resident into a special group (needs ``registry.add_groupmembership`` and the resident in scope)."""
    if not actor.has_perm("registry.add_groupmembership"):
        raise PermissionDenied
    current = _locked_resident(actor, resident)
    note = _clean_membership(actor, current, group, since, until, note, None)
    assert group is not None and since is not None  # noqa: S101 - checked above
    membership = GroupMembership.objects.create(resident=current, group=group, since=since, until=until, note=note)
    record("registry.membership.create", actor=actor, obj=membership, after=_membership_snapshot(membership))
    return membership


def _locked_membership(actor: Any, membership: GroupMembership, perm: str) -> GroupMembership:
    if not actor.has_perm(perm):
        raise PermissionDenied
    _locked_resident(actor, membership.resident)
    try:
        current: GroupMembership = (
            GroupMembership.objects.restrict(actor, "view").select_related("group").get(pk=membership.pk)
        )
    except GroupMembership.DoesNotExist as exc:
        raise PermissionDenied from exc
    if not may_see_group(actor, current.group):
        raise PermissionDenied
    return current


@transaction.atomic
def update_membership(
    *,
    actor: Any,
    membership: GroupMembership,
    since: datetime.date | None,
    until: datetime.date | None,
    note: str = "",
) -> GroupMembership:
    """Change the dates or the note of a membership (an end date closes it; the history stays)."""
    current = _locked_membership(actor, membership, "registry.change_groupmembership")
    before = _membership_snapshot(current)
    note = _clean_membership(actor, current.resident, current.group, since, until, note, current.pk)
    assert since is not None  # noqa: S101 - checked above
    current.since, current.until, current.note = since, until, note
    current.save()
    old, new = changed(before, _membership_snapshot(current))
    record("registry.membership.update", actor=actor, obj=current, before=old, after=new)
    return current


@transaction.atomic
def delete_membership(*, actor: Any, membership: GroupMembership) -> None:
    """Remove a membership entered by mistake (to end a real one, give it an end date)."""
    current = _locked_membership(actor, membership, "registry.delete_groupmembership")
    before = _membership_snapshot(current)
    record("registry.membership.delete", actor=actor, obj=current, before=before)
    current.delete()
