"""Bulk import of residents from Excel: checked in full first, then written all or nothing.

The sheet's columns (Chinese or English headers, any order; a header that is
none of these is an error, so a misspelt "身份证" is not silently ignored):

==============  ==================  ===============================================
姓名             Name                required
身份证号         ID number           optional; checked (GB 11643 check digit, birth date)
性别             Gender              optional: 男 / 女; must agree with the ID number
出生日期         Date of birth       optional; must agree with the ID number
联系电话         Phone               optional; mobile or landline with area code
网格编码         Grid code           required: the 15-digit code of a grid in your area
户号             Household number    optional: an existing household of that grid, or a
                                     new one (created, with the address below)
住址             Address             the address of a new household
与户主关系       Relation            optional (户主, 配偶, 子女...)
特殊人群         Special groups      optional: group names or codes, separated by 、or ,
==============  ==================  ===============================================

``check_residents`` runs the phases *read*, *validate* and *dedupe* and
writes nothing: it returns the planned rows, every problem with its row and
column, and warnings. ``import_residents`` runs the same checks and, only if
there is no problem at all, the *write* phase in one transaction: new
households, the residents (encrypted by ``seal_personal_fields``, inserted
with ``bulk_create``) and their group memberships, then one audit row.

Duplicates are found before anything is written: within the file (the same
ID number twice) and against the registry, through the blind index of the ID
number, looked up in batches. A duplicate outside the user's area is reported
without saying where it is.

Each phase's duration is kept in ``ResidentImport.timings`` (seconds), for
the benchmark (bench/resident_import.py).
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from fengqiao.audit.services import record
from fengqiao.core import crypto
from fengqiao.core.excel import CellError, Column, SheetResult, read_sheet
from fengqiao.core.masking import mask
from fengqiao.core.personal import encrypted_fields, index_for, normalise, seal_personal_fields
from fengqiao.core.validators import validate_phone, validate_resident_id
from fengqiao.regions.models import Level, Region

from . import selectors
from .groups import SENSITIVE_PERMISSION
from .models import Gender, GroupMembership, Household, Resident, SpecialGroup

ADD_PERM = "registry.add_resident"
MAX_UPLOAD_BYTES = 40 * 1024 * 1024
#: blind indexes per lookup query (below SQLite's and PostgreSQL's parameter limits)
LOOKUP_BATCH = 900
#: rows per INSERT
WRITE_BATCH = 2000
NAME_MAX = 50
RELATION_MAX = 20
ADDRESS_MAX = 200
HOUSEHOLD_NUMBER_MAX = 32


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


GENDER_WORDS = {
    "男": Gender.MALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "f": Gender.FEMALE,
    "male": Gender.MALE,
    "female": Gender.FEMALE,
}


def parse_gender(value: Any) -> str:
    text = _text(value).lower()
    if text in GENDER_WORDS:
        return str(GENDER_WORDS[text])
    raise ValidationError(_("Write 男 or 女 (male or female), not “%(value)s”.") % {"value": _text(value)})


def parse_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValidationError(_("“%(value)s” is not a date; write it like 1990-03-07.") % {"value": text})


COLUMNS = (
    Column("name", ("姓名", "Name", "name")),
    Column(
        "id_number", ("身份证号", "身份证号码", "公民身份号码", "ID number", "id_number"), required=False, parse=_text
    ),
    Column("gender", ("性别", "Gender", "gender"), required=False, parse=parse_gender),
    Column("birth_date", ("出生日期", "Date of birth", "birth_date"), required=False, parse=parse_date),
    Column("phone", ("联系电话", "手机号码", "电话", "Phone", "phone"), required=False, parse=_text),
    Column("grid", ("网格编码", "Grid code", "grid"), parse=_text),
    Column("household", ("户号", "Household number", "household"), required=False, parse=_text),
    Column("address", ("住址", "Address", "address"), required=False, parse=_text),
    Column("relation", ("与户主关系", "Relation", "relation"), required=False, parse=_text),
    Column("groups", ("特殊人群", "Special groups", "groups"), required=False, parse=_text),
)

_GROUP_SEPARATORS = re.compile(r"[,，、;；/\s]+")


@dataclass
class PlannedResident:
    row: int
    name: str
    id_number: str
    id_index: str
    phone: str
    gender: str
    birth_date: datetime.date | None
    grid: Region
    household: str
    relation: str
    groups: list[SpecialGroup]


@dataclass
class NewHousehold:
    number: str
    grid: Region
    address: str
    row: int


@dataclass
class ResidentImport:
    planned: list[PlannedResident] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    warnings: list[CellError] = field(default_factory=list)
    new_households: dict[str, NewHousehold] = field(default_factory=dict)
    existing_households: dict[str, Household] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: CPU seconds of this process per phase (the database server's work is not included)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def memberships(self) -> int:
        return sum(len(p.groups) for p in self.planned)


@contextmanager
def _phase(result: ResidentImport, name: str) -> Iterator[None]:
    start, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        result.timings[name] = result.timings.get(name, 0.0) + time.perf_counter() - start
        result.cpu_timings[name] = result.cpu_timings.get(name, 0.0) + time.process_time() - cpu


def _norm_header(value: Any) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("*", "")


def _unknown_headers(upload: IO[bytes]) -> list[CellError]:
    """Headers that match no column: reported, so a misspelt column is not silently dropped."""
    known = {_norm_header(h) for col in COLUMNS for h in (col.key, *col.headers)}
    try:
        upload.seek(0)
        wb = load_workbook(upload, read_only=True, data_only=True)
        header = next(wb.worksheets[0].iter_rows(min_row=1, max_row=1, values_only=True), ())
        wb.close()
    except Exception:  # unreadable: read_sheet reports it
        return []
    finally:
        upload.seek(0)
    problems = []
    expected = "、".join(col.headers[0] for col in COLUMNS)
    for i, value in enumerate(header or ()):
        if value is None or str(value).strip() == "":
            continue
        if _norm_header(value) not in known:
            from openpyxl.utils import get_column_letter

            problems.append(
                CellError(
                    1,
                    get_column_letter(i + 1),
                    str(value),
                    _("Unknown column “%(name)s”. The columns are: %(expected)s.")
                    % {"name": value, "expected": expected},
                )
            )
    return problems


def _group_lookup(actor: Any) -> tuple[dict[str, SpecialGroup], set[str]]:
    """Active groups by lower-case code and by name; and the keys of sensitive groups the actor may not use."""
    may_sensitive = actor.has_perm(SENSITIVE_PERMISSION)
    usable: dict[str, SpecialGroup] = {}
    hidden: set[str] = set()
    for group in SpecialGroup.objects.filter(is_active=True):
        keys = {group.code.lower(), group.name.strip().lower()}
        if group.sensitive and not may_sensitive:
            hidden |= keys
        else:
            for key in keys:
                usable[key] = group
    return usable, hidden


def _grid_lookup(actor: Any, codes: set[str]) -> tuple[dict[str, Region], dict[str, Region]]:
    """(grids in the actor's area by code and path, other current grids of those codes)."""
    today = timezone.localdate()
    current = Q(valid_to__isnull=True) | Q(valid_to__gt=today)
    allowed = {}
    for grid in selectors.regions_in_scope(actor, ADD_PERM, (Level.GRID,)).filter(
        Q(code__in=codes) | Q(path__in=codes)
    ):
        allowed[grid.code] = grid
        allowed[grid.path] = grid
    others = {}
    missing = codes - set(allowed)
    if missing:
        for region in Region.objects.filter(current).filter(Q(code__in=missing) | Q(path__in=missing)):
            others[region.code] = region
            others[region.path] = region
    return allowed, others


def check_residents(upload: IO[bytes], *, actor: Any) -> ResidentImport:
    """Read and check a resident sheet; write nothing (see the module docstring)."""
    result = ResidentImport()
    with _phase(result, "read"):
        unknown = _unknown_headers(upload)
        sheet: SheetResult = read_sheet(upload, COLUMNS)
    result.errors = unknown + list(sheet.errors)
    if not sheet.rows:
        if not result.errors:
            result.errors.append(CellError(0, "", "", _("The sheet has no rows below the headers.")))
        return result
    with _phase(result, "validate"):
        planned = _validate(sheet, result, actor)
    with _phase(result, "dedupe"):
        _dedupe(sheet, planned, actor)
    result.errors = unknown + list(sheet.errors)
    result.errors.sort(key=lambda e: (e.row, e.column))
    result.planned = planned if not result.errors else []
    return result


def _validate(sheet: SheetResult, result: ResidentImport, actor: Any) -> list[PlannedResident]:
    today = timezone.localdate()
    groups, hidden_groups = _group_lookup(actor)
    grid_codes = {str(r["grid"]) for r in sheet.rows if r.get("grid")}
    grids, other_grids = _grid_lookup(actor, grid_codes)
    numbers = {str(r["household"]) for r in sheet.rows if r.get("household")}
    existing: dict[str, Household] = {}
    for chunk in _chunks(sorted(numbers), LOOKUP_BATCH):
        for household in Household.objects.filter(number__in=chunk).select_related("grid"):
            existing[household.number] = household
    visible: set[int] = set()
    if existing:
        visible_qs: QuerySet[Household] = Household.objects.restrict(actor, "view")
        for chunk in _chunks([h.pk for h in existing.values()], LOOKUP_BATCH):
            visible.update(visible_qs.filter(pk__in=chunk).values_list("pk", flat=True))
    new_households = result.new_households
    planned: list[PlannedResident] = []
    add = sheet.add_error
    for row_number, row in zip(sheet.row_numbers, sheet.rows, strict=True):
        ok = True
        name = str(row.get("name") or "").strip()
        if len(name) > NAME_MAX:
            add(row_number, "name", _("The name is too long (at most %d characters).") % NAME_MAX)
            ok = False
        gender = row.get("gender") or ""
        birth = row.get("birth_date")
        id_number = ""
        raw_id = row.get("id_number")
        if raw_id:
            try:
                check = validate_resident_id(raw_id)
            except ValidationError as exc:
                for message in exc.messages:
                    add(row_number, "id_number", message)
                ok = False
            else:
                id_number = check.number
                for message in check.warnings:
                    letter, header = sheet.positions.get("id_number", ("", ""))
                    result.warnings.append(CellError(row_number, letter, header, message))
                if gender and gender != check.gender:
                    add(
                        row_number,
                        "gender",
                        _("The gender does not match the ID number, whose 17th digit says %(gender)s.")
                        % {"gender": Gender(check.gender).label},
                    )
                    ok = False
                if birth is not None and birth != check.birth_date:
                    add(
                        row_number,
                        "birth_date",
                        _("The date of birth does not match the ID number, which says %(date)s.")
                        % {"date": check.birth_date.isoformat()},
                    )
                    ok = False
                gender, birth = check.gender, check.birth_date
        if birth is not None and birth > today:
            add(row_number, "birth_date", _("The date of birth cannot be in the future."))
            ok = False
        phone = ""
        if row.get("phone"):
            try:
                phone = validate_phone(row["phone"])
            except ValidationError as exc:
                for message in exc.messages:
                    add(row_number, "phone", message)
                ok = False
        grid = None
        code = str(row.get("grid") or "")
        if code:
            grid = grids.get(code)
            if grid is None:
                other = other_grids.get(code)
                if other is None:
                    add(row_number, "grid", _("No grid with the code %(code)s.") % {"code": code})
                elif other.level != Level.GRID:
                    add(
                        row_number,
                        "grid",
                        _("%(code)s is %(name)s, not a grid: give the code of a grid.")
                        % {"code": code, "name": other.name},
                    )
                else:
                    add(row_number, "grid", _("The grid %(name)s is outside your area.") % {"name": other.name})
                ok = False
        number = str(row.get("household") or "")
        if number:
            if len(number) > HOUSEHOLD_NUMBER_MAX:
                add(row_number, "household", _("The household number is too long (at most 32 characters)."))
                ok = False
            elif number in existing:
                household = existing[number]
                if household.pk not in visible:
                    add(
                        row_number,
                        "household",
                        _("The household number %(number)s belongs to a household outside your area.")
                        % {"number": number},
                    )
                    ok = False
                elif grid is not None and household.grid_id != grid.pk:
                    add(
                        row_number,
                        "household",
                        _("Household %(number)s is in another grid (%(grid)s).")
                        % {"number": number, "grid": household.grid.name},
                    )
                    ok = False
                else:
                    result.existing_households[number] = household
            elif grid is not None:
                address = str(row.get("address") or "")
                known = new_households.get(number)
                if known is None:
                    if not address:
                        add(
                            row_number,
                            "address",
                            _("Household %(number)s is new: give its address.") % {"number": number},
                        )
                        ok = False
                    elif len(address) > ADDRESS_MAX:
                        add(row_number, "address", _("The address is too long (at most %d characters).") % ADDRESS_MAX)
                        ok = False
                    else:
                        new_households[number] = NewHousehold(number, grid, address, row_number)
                elif known.grid.pk != grid.pk:
                    add(
                        row_number,
                        "household",
                        _("Household %(number)s is given in another grid in row %(row)d.")
                        % {"number": number, "row": known.row},
                    )
                    ok = False
        relation = str(row.get("relation") or "")
        if len(relation) > RELATION_MAX:
            add(row_number, "relation", _("The relation is too long (at most %d characters).") % RELATION_MAX)
            ok = False
        chosen: list[SpecialGroup] = []
        if row.get("groups"):
            for word in _GROUP_SEPARATORS.split(str(row["groups"])):
                key = word.strip().lower()
                if not key:
                    continue
                group = groups.get(key)
                if group is None:
                    if key in hidden_groups:
                        message = _("You may not assign people to the group “%(name)s”.") % {"name": word}
                    else:
                        message = _("No special group “%(name)s”.") % {"name": word}
                    add(row_number, "groups", message)
                    ok = False
                elif group not in chosen:
                    chosen.append(group)
        if ok and grid is not None:
            planned.append(
                PlannedResident(
                    row=row_number,
                    name=name,
                    id_number=id_number,
                    id_index="",
                    phone=phone,
                    gender=gender,
                    birth_date=birth,
                    grid=grid,
                    household=number,
                    relation=relation,
                    groups=chosen,
                )
            )
    return planned


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dedupe(sheet: SheetResult, planned: list[PlannedResident], actor: Any) -> None:
    """Duplicate ID numbers within the file and against the registry (by blind index)."""
    first_row: dict[str, int] = {}
    by_index: dict[str, PlannedResident] = {}
    for item in planned:
        if not item.id_number:
            continue
        seen = first_row.get(item.id_number)
        if seen is not None:
            sheet.add_error(item.row, "id_number", _("The same ID number is already in row %(row)d.") % {"row": seen})
            continue
        first_row[item.id_number] = item.row
        item.id_index = index_for("id_number", item.id_number)
        by_index[item.id_index] = item
    # rows with an ID number whose row was rejected in validation are not in
    # ``planned``; their duplicates are reported once the number is corrected
    found: dict[str, int] = {}
    for chunk in _chunks(list(by_index), LOOKUP_BATCH):
        found.update(Resident.objects.filter(id_number_index__in=chunk).values_list("id_number_index", "pk"))
    if not found:
        return
    visible: dict[int, Resident] = {}
    visible_qs: QuerySet[Resident] = Resident.objects.restrict(actor, "view").select_related("grid")
    for pks in _chunks(list(found.values()), LOOKUP_BATCH):
        visible.update({r.pk: r for r in visible_qs.filter(pk__in=pks)})
    for index, pk in found.items():
        item = by_index[index]
        resident = visible.get(pk)
        if resident is not None:
            message = _("This person is already registered: %(name)s in %(grid)s.") % {
                "name": resident.name_masked,
                "grid": resident.grid.name,
            }
        else:
            message = _("This person is already registered in another area.")
        sheet.add_error(item.row, "id_number", message)


def import_residents(upload: IO[bytes], *, actor: Any) -> ResidentImport:
    """Check the sheet and, only if it has no problem at all, write everything in one transaction."""
    result = check_residents(upload, actor=actor)
    if not result.ok:
        return result
    with _phase(result, "write"):
        try:
            with transaction.atomic():
                _write(result, actor)
        except IntegrityError:
            # someone registered one of these people between the check and the write
            result.created = 0
            result.errors = [
                CellError(
                    0,
                    "",
                    "",
                    _(
                        "While importing, one of these people was registered by someone else. Nothing was imported: "
                        "upload the file again to see which row."
                    ),
                )
            ]
    return result


def _personal_columns(item: PlannedResident) -> dict[str, str]:
    """Ciphertext, mask and blind index of each personal field, as ``seal_personal_fields`` writes them."""
    values: dict[str, str] = {}
    plain_values = {"name": item.name, "id_number": item.id_number, "phone": item.phone}
    for f in _ENCRYPTED:
        plain = normalise(f.kind, plain_values[f.name])
        values[f.attname] = crypto.encrypt(plain, context=f.context) if plain else ""
        values[f"{f.name}_masked"] = mask(f.kind, plain) if plain else ""
        if f.searchable:
            index = item.id_index if f.name == "id_number" and item.id_index else index_for(f.kind, plain)
            values[f"{f.name}_index"] = index if plain else ""
    return values


_ENCRYPTED = list(encrypted_fields(Resident))


def _insert_residents(rows: list[PlannedResident], households: dict[str, Household]) -> None:
    """Plain multi-row INSERTs (``executemany``) of residents without group memberships: the
    ORM's per-field preparation in ``bulk_create`` cost about a third of the write phase."""
    fields = [f for f in Resident._meta.local_concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    # identifiers come from the model's own metadata, values are parameters
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(Resident._meta.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields}
    adapt_date = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, WRITE_BATCH):
            params = []
            for item in chunk:
                household = households.get(item.household) if item.household else None
                values = {
                    **defaults,
                    **_personal_columns(item),
                    "household_id": household.pk if household else None,
                    "grid_id": item.grid.pk,
                    "region_path": item.grid.path,
                    "gender": item.gender,
                    "birth_date": adapt_date(item.birth_date),
                    "relation": item.relation,
                    "created_at": now,
                    "updated_at": now,
                }
                params.append([values[f.attname] for f in fields])
            cursor.executemany(sql, params)


def _write(result: ResidentImport, actor: Any) -> None:
    households: dict[str, Household] = dict(result.existing_households)
    new = [
        Household(number=h.number, grid=h.grid, region_path=h.grid.path, address=h.address)
        for h in result.new_households.values()
    ]
    if new:
        created = Household.objects.bulk_create(new, batch_size=WRITE_BATCH)
        if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover - old SQLite
            created = list(Household.objects.filter(number__in=[h.number for h in new]))
        households.update({h.number: h for h in created})
    today = timezone.localdate()
    # rows with group memberships need their new ids: those go through bulk_create
    with_groups = [item for item in result.planned if item.groups]
    _insert_residents([item for item in result.planned if not item.groups], households)
    memberships: list[GroupMembership] = []
    for chunk in _chunks(with_groups, WRITE_BATCH):
        residents = []
        for item in chunk:
            resident = Resident(
                grid=item.grid,
                region_path=item.grid.path,
                household=households.get(item.household) if item.household else None,
                name=item.name,
                id_number=item.id_number,
                phone=item.phone,
                gender=item.gender,
                birth_date=item.birth_date,
                relation=item.relation,
            )
            seal_personal_fields(resident)  # encrypts; masks and blind indexes
            residents.append(resident)
        saved = Resident.objects.bulk_create(residents)
        for item, resident in zip(chunk, saved, strict=True):
            memberships.extend(GroupMembership(resident=resident, group=g, since=today) for g in item.groups)
    if memberships:
        GroupMembership.objects.bulk_create(memberships, batch_size=WRITE_BATCH)
    result.created = len(result.planned)
    record(
        "registry.resident.import",
        actor=actor,
        detail={
            "rows": result.created,
            "households_created": len(new),
            "memberships": len(memberships),
        },
    )
