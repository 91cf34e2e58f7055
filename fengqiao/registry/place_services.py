"""Writes to the registry of places (场所) and organisations (组织) of each grid.

As for residents: validate everything first (errors keyed by field, in the
user's language), write, check the saved row is inside the actor's scope for
the action, and audit with masked personal fields. A location given with
longitude and latitude must lie inside the chosen grid (point-in-polygon over
the grid boundaries, ``regions.locate``); grids without a boundary cannot be
checked and accept any location.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from fengqiao.audit.services import changed, record
from fengqiao.core.personal import index_for
from fengqiao.core.validators import validate_phone, validate_resident_id
from fengqiao.regions.locate import locate
from fengqiao.regions.models import Region

from .models import Organisation, OrganisationKind, Place, PlaceKind, Resident
from .services import KEEP, _check_coordinates, _require_in_scope, check_grid, personal_snapshot

NAME_MAX = 100
ADDRESS_MAX = 200
PERSON_MAX = 50
NOTE_MAX = 200


def _text(errors: dict[str, list[str]], key: str, value: str | None, *, required: str = "", limit: int) -> str:
    value = (value or "").strip()
    if not value and required:
        errors.setdefault(key, []).append(required)
    elif len(value) > limit:
        errors.setdefault(key, []).append(_("Too long (at most %d characters).") % limit)
    return value


def _phone(errors: dict[str, list[str]], value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return ""
    try:
        return validate_phone(value)
    except ValidationError as exc:
        errors.setdefault("contact_phone", []).extend(exc.messages)
        return ""


def check_location(grid: Region | None, lng: float | None, lat: float | None, errors: dict[str, list[str]]) -> None:
    """The point must be inside ``grid`` (when the grid has a boundary to check against)."""
    _check_coordinates(lng, lat, errors)
    if errors.get("lng") or errors.get("lat") or grid is None or lng is None or lat is None or not grid.boundary:
        return
    located, _community = locate(lng, lat)
    if located is None or located.pk != grid.pk:
        where = _("in %(grid)s") % {"grid": located.name} if located else _("outside every grid")
        errors.setdefault("lng", []).append(
            _("This location is not inside the grid %(grid)s (it is %(where)s). Check the grid or the coordinates.")
            % {"grid": grid.name, "where": where}
        )


def _grid(errors: dict[str, list[str]], grid: Region | None) -> Region | None:
    try:
        return check_grid(grid)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        return None


def _residents_by_id(actor: Any, numbers: list[str], key: str, errors: dict[str, list[str]]) -> list[Resident]:
    """Registered residents (in the actor's area) for ID numbers, e.g. a landlord and tenants."""
    found = []
    visible: QuerySet[Resident] = Resident.objects.restrict(actor, "view")
    for raw in numbers:
        raw = raw.strip()
        if not raw:
            continue
        try:
            number = validate_resident_id(raw).number
        except ValidationError as exc:
            errors.setdefault(key, []).extend(exc.messages)
            continue
        resident = visible.filter(id_number_index=index_for("id_number", number)).first()
        if resident is None:
            errors.setdefault(key, []).append(
                _("No resident with the ID number ending in %(tail)s is registered in your area.")
                % {"tail": number[-4:]}
            )
        elif resident not in found:
            found.append(resident)
    return found


# --- places ---------------------------------------------------------------------------


@transaction.atomic
def save_place(
    *,
    actor: Any,
    place: Place | None = None,
    kind: str,
    name: str,
    address: str,
    grid: Region | None,
    lng: float | None = None,
    lat: float | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    landlord_id_number: str | None = KEEP,
    tenant_id_numbers: list[str] | None = KEEP,
    note: str = "",
) -> Place:
    """Register (``place`` None) or change a place. Personal fields left as None keep their
    value; for rental housing the landlord and tenants are given by their ID numbers
    (registered residents of the actor's area); other kinds have none."""
    action = "add" if place is None else "change"
    if place is not None:
        try:
            place = Place.objects.restrict(actor, "change").select_for_update().get(pk=place.pk)
        except Place.DoesNotExist as exc:
            raise PermissionDenied from exc
    before = personal_snapshot(place)
    errors: dict[str, list[str]] = {}
    if kind not in PlaceKind.values:
        errors.setdefault("kind", []).append(_("Choose the kind of place."))
    name = _text(errors, "name", name, required=_("Enter the name of the place."), limit=NAME_MAX)
    address = _text(errors, "address", address, required=_("Enter the address."), limit=ADDRESS_MAX)
    note = _text(errors, "note", note, limit=NOTE_MAX)
    checked_grid = _grid(errors, grid)
    check_location(checked_grid, lng, lat, errors)
    contact = _text(errors, "contact_name", contact_name, limit=PERSON_MAX) if contact_name is not None else None
    phone = _phone(errors, contact_phone)
    landlord: Resident | Any | None = KEEP
    tenants: list[Resident] | Any = KEEP
    if kind != PlaceKind.RENTAL:
        landlord, tenants = None, []
    else:
        if landlord_id_number is not KEEP:
            found = _residents_by_id(actor, [landlord_id_number or ""], "landlord", errors)
            landlord = found[0] if found else None
        if tenant_id_numbers is not KEEP:
            tenants = _residents_by_id(actor, list(tenant_id_numbers or []), "tenants", errors)
    if errors:
        raise ValidationError(errors)
    assert checked_grid is not None  # noqa: S101 - checked above
    target = place or Place()
    target.kind, target.name, target.address, target.note = kind, name, address, note
    target.grid, target.region_path, target.lng, target.lat = checked_grid, checked_grid.path, lng, lat
    if contact is not None:
        target.contact_name = contact
    if phone is not None:
        target.contact_phone = phone
    if landlord is not KEEP:
        target.landlord = landlord
    target.save()
    if tenants is not KEEP:
        target.tenants.set(tenants)
    _require_in_scope(Place, actor, action, target.pk)
    after = personal_snapshot(target)
    detail = {"tenants": len(tenants)} if tenants is not KEEP else None
    if place is None:
        record("registry.place.create", actor=actor, obj=target, after=after, detail=detail)
    else:
        old, new = changed(before, after)
        record("registry.place.update", actor=actor, obj=target, before=old, after=new, detail=detail)
    return target


# --- organisations --------------------------------------------------------------------


def clean_credit_code(value: str) -> str:
    """A unified social credit code (统一社会信用代码, GB 32100): 18 characters with a check character."""
    code = (value or "").strip().upper().replace(" ", "")
    if not code:
        return ""
    try:
        return str(uscc.validate(code))
    except StdnumError as exc:
        raise ValidationError(
            _(
                "“%(code)s” is not a valid unified social credit code (18 characters, the last one a check "
                "character): check for a mistyped character."
            )
            % {"code": code}
        ) from exc


@transaction.atomic
def save_organisation(
    *,
    actor: Any,
    organisation: Organisation | None = None,
    kind: str,
    name: str,
    address: str,
    grid: Region | None,
    credit_code: str = "",
    lng: float | None = None,
    lat: float | None = None,
    legal_representative: str | None = None,
    contact_phone: str | None = None,
    employees: int | None = None,
    note: str = "",
) -> Organisation:
    """Register (``organisation`` None) or change an organisation; personal fields left as None keep their value."""
    action = "add" if organisation is None else "change"
    if organisation is not None:
        try:
            organisation = Organisation.objects.restrict(actor, "change").select_for_update().get(pk=organisation.pk)
        except Organisation.DoesNotExist as exc:
            raise PermissionDenied from exc
    before = personal_snapshot(organisation)
    errors: dict[str, list[str]] = {}
    if kind not in OrganisationKind.values:
        errors.setdefault("kind", []).append(_("Choose the kind of organisation."))
    name = _text(errors, "name", name, required=_("Enter the name of the organisation."), limit=NAME_MAX)
    address = _text(errors, "address", address, required=_("Enter the address."), limit=ADDRESS_MAX)
    note = _text(errors, "note", note, limit=NOTE_MAX)
    try:
        code = clean_credit_code(credit_code)
    except ValidationError as exc:
        errors.setdefault("credit_code", []).extend(exc.messages)
        code = ""
    if code:
        others = Organisation.objects.filter(credit_code=code)
        if organisation is not None:
            others = others.exclude(pk=organisation.pk)
        if others.exists():
            errors.setdefault("credit_code", []).append(
                _("An organisation with this credit code is already registered.")
            )
    if employees is not None and employees < 0:
        errors.setdefault("employees", []).append(_("The number of employees cannot be negative."))
    checked_grid = _grid(errors, grid)
    check_location(checked_grid, lng, lat, errors)
    legal = (
        _text(errors, "legal_representative", legal_representative, limit=PERSON_MAX)
        if legal_representative is not None
        else None
    )
    phone = _phone(errors, contact_phone)
    if errors:
        raise ValidationError(errors)
    assert checked_grid is not None  # noqa: S101 - checked above
    target = organisation or Organisation()
    target.kind, target.name, target.address, target.note = kind, name, address, note
    target.credit_code, target.employees = code, employees
    target.grid, target.region_path, target.lng, target.lat = checked_grid, checked_grid.path, lng, lat
    if legal is not None:
        target.legal_representative = legal
    if phone is not None:
        target.contact_phone = phone
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"credit_code": _("An organisation with this credit code is already registered.")}
        ) from exc
    _require_in_scope(Organisation, actor, action, target.pk)
    after = personal_snapshot(target)
    if organisation is None:
        record("registry.organisation.create", actor=actor, obj=target, after=after)
    else:
        old, new = changed(before, after)
        record("registry.organisation.update", actor=actor, obj=target, before=old, after=new)
    return target
