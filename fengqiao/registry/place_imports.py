"""Excel import of places and organisations: all or nothing, every problem by row and column.

Each row goes through the same service as the form (``save_place`` /
``save_organisation``: validation, location inside the grid, encryption,
audit) inside one transaction; if any row fails, nothing is kept. The kind
column accepts the Chinese or English label or the code. Grids are given by
their 15-digit code and must be in the user's area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.core.excel import CellError, Column, SheetResult, read_sheet
from fengqiao.core.validators import validate_phone
from fengqiao.regions.models import Level, Region

from . import place_services, selectors
from .imports import _text
from .models import OrganisationKind, PlaceKind

_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _float(value: Any) -> float:
    try:
        return float(_text(value))
    except ValueError as exc:
        raise ValidationError(_("Not a number: “%(value)s”.") % {"value": value}) from exc


def _int(value: Any) -> int:
    try:
        return int(float(_text(value)))
    except ValueError as exc:
        raise ValidationError(_("Not a whole number: “%(value)s”.") % {"value": value}) from exc


def _credit_code(value: Any) -> str:
    return place_services.clean_credit_code(_text(value))


def _phone(value: Any) -> str:
    return validate_phone(_text(value))


def _kind_parser(choices: type[models.TextChoices]) -> Any:
    def parse(value: Any) -> str:
        text = _text(value)
        for code, label in choices.choices:
            names = {str(code).lower(), str(label).lower()}
            with translation.override("zh-hans"):
                names.add(str(choices(code).label).lower())
            with translation.override("en"):
                names.add(str(choices(code).label).lower())
            if text.lower() in names:
                return str(code)
        known = "、".join(str(label) for _c, label in choices.choices)
        raise ValidationError(_("Unknown kind “%(value)s”. Use one of: %(known)s.") % {"value": text, "known": known})

    return parse


PLACE_COLUMNS = (
    Column("kind", ("类别", "Kind", "kind"), parse=_kind_parser(PlaceKind)),
    Column("name", ("名称", "Name", "name"), parse=_text),
    Column("address", ("地址", "Address", "address"), parse=_text),
    Column("grid", ("网格编码", "Grid code", "grid"), parse=_text),
    Column("lng", ("经度", "Longitude", "lng"), required=False, parse=_float),
    Column("lat", ("纬度", "Latitude", "lat"), required=False, parse=_float),
    Column("contact_name", ("联系人", "Contact person", "contact_name"), required=False, parse=_text),
    Column("contact_phone", ("联系电话", "Contact phone", "contact_phone"), required=False, parse=_phone),
    Column("landlord", ("房东身份证号", "Landlord's ID number", "landlord"), required=False, parse=_text),
    Column("tenants", ("租户身份证号", "Tenants' ID numbers", "tenants"), required=False, parse=_text),
    Column("note", ("备注", "Note", "note"), required=False, parse=_text),
)

ORGANISATION_COLUMNS = (
    Column("kind", ("类别", "Kind", "kind"), parse=_kind_parser(OrganisationKind)),
    Column("name", ("名称", "Name", "name"), parse=_text),
    Column(
        "credit_code",
        ("统一社会信用代码", "Unified social credit code", "credit_code"),
        required=False,
        parse=_credit_code,
    ),
    Column("address", ("地址", "Address", "address"), parse=_text),
    Column("grid", ("网格编码", "Grid code", "grid"), parse=_text),
    Column("lng", ("经度", "Longitude", "lng"), required=False, parse=_float),
    Column("lat", ("纬度", "Latitude", "lat"), required=False, parse=_float),
    Column("legal_representative", ("法定代表人", "Legal representative", "legal_representative"), required=False),
    Column("contact_phone", ("联系电话", "Contact phone", "contact_phone"), required=False, parse=_phone),
    Column("employees", ("从业人数", "Employees", "employees"), required=False, parse=_int),
    Column("note", ("备注", "Note", "note"), required=False, parse=_text),
)

#: service error keys → sheet column keys
_ERROR_COLUMNS = {"landlord": "landlord", "tenants": "tenants", "lat": "lat"}


@dataclass
class ImportResult:
    created: int = 0
    errors: list[CellError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Rollback(Exception):
    pass


def _grids(actor: Any, perm: str, codes: set[str]) -> tuple[dict[str, Region], set[str]]:
    allowed = {}
    for grid in selectors.regions_in_scope(actor, perm, (Level.GRID,)).filter(Q(code__in=codes) | Q(path__in=codes)):
        allowed[grid.code] = grid
        allowed[grid.path] = grid
    existing = set(
        Region.objects.filter(level=Level.GRID)
        .filter(Q(code__in=codes) | Q(path__in=codes))
        .values_list("code", flat=True)
    )
    return allowed, existing


def import_places(upload: IO[bytes], *, actor: Any) -> ImportResult:
    return _import(upload, actor, PLACE_COLUMNS, "registry.add_place", "registry.place.import", _save_place)


def import_organisations(upload: IO[bytes], *, actor: Any) -> ImportResult:
    return _import(
        upload,
        actor,
        ORGANISATION_COLUMNS,
        "registry.add_organisation",
        "registry.organisation.import",
        _save_organisation,
    )


def _save_place(actor: Any, row: dict[str, Any], grid: Region) -> None:
    is_rental = row["kind"] == PlaceKind.RENTAL
    place_services.save_place(
        actor=actor,
        kind=row["kind"],
        name=row["name"] or "",
        address=row["address"] or "",
        grid=grid,
        lng=row.get("lng"),
        lat=row.get("lat"),
        contact_name=row.get("contact_name") or "",
        contact_phone=row.get("contact_phone") or "",
        landlord_id_number=(row.get("landlord") or "") if is_rental else "",
        tenant_id_numbers=_SEPARATORS.split(row.get("tenants") or "") if is_rental else [],
        note=row.get("note") or "",
    )


def _save_organisation(actor: Any, row: dict[str, Any], grid: Region) -> None:
    place_services.save_organisation(
        actor=actor,
        kind=row["kind"],
        name=row["name"] or "",
        credit_code=row.get("credit_code") or "",
        address=row["address"] or "",
        grid=grid,
        lng=row.get("lng"),
        lat=row.get("lat"),
        legal_representative=_text(row.get("legal_representative") or ""),
        contact_phone=row.get("contact_phone") or "",
        employees=row.get("employees"),
        note=row.get("note") or "",
    )


def _import(
    upload: IO[bytes], actor: Any, columns: tuple[Column, ...], perm: str, action: str, save: Any
) -> ImportResult:
    if not actor.has_perm(perm):
        raise PermissionDenied
    sheet: SheetResult = read_sheet(upload, columns)
    result = ImportResult()
    if not sheet.rows:
        result.errors = list(sheet.errors) or [CellError(0, "", "", _("The sheet has no rows below the headers."))]
        return result
    codes = {str(r["grid"]) for r in sheet.rows if r.get("grid")}
    allowed, existing = _grids(actor, perm, codes)
    keys = {c.key for c in columns}
    try:
        with transaction.atomic():
            for row_number, row in zip(sheet.row_numbers, sheet.rows, strict=True):
                if any(e.row == row_number for e in sheet.errors):
                    continue
                code = str(row.get("grid") or "")
                grid = allowed.get(code)
                if grid is None:
                    message = (
                        _("The grid %(code)s is outside your area.") % {"code": code}
                        if code in existing
                        else _("No grid with the code %(code)s.") % {"code": code}
                    )
                    sheet.add_error(row_number, "grid", message)
                    continue
                try:
                    with transaction.atomic():
                        save(actor, row, grid)
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        column = _ERROR_COLUMNS.get(key, key if key in keys else None)
                        for message in messages:
                            sheet.add_error(row_number, column, message)
                except PermissionDenied:
                    sheet.add_error(row_number, "grid", _("You may not register here."))
                else:
                    result.created += 1
            if sheet.errors:
                raise _Rollback
            record(action, actor=actor, detail={"rows": result.created})
    except _Rollback:
        result.created = 0
    result.errors = sorted(sheet.errors, key=lambda e: (e.row, e.column))
    return result
