"""Bulk import of cases from Excel: all or nothing, every problem reported by row and column.

The sheet's columns (Chinese or English headers, any order):

=============  ======================  ========================================
类别编码        Category code           required; an active category's code
描述            Description             required
社区编码        Community code          12-digit code; required unless 经度/纬度 are given
地址            Address                 optional
经度 / 纬度      Longitude / Latitude    optional, both or neither
来源渠道        Channel                 optional: 来访 / 电话 / 代办 / 网格员上报 ... (the
                                        channel names or codes); empty = "Excel import"
反映人 / 电话    Reporter / Phone        optional (stored encrypted)
受理时间        Received at             required, not in the future
=============  ======================  ========================================

Each row goes through ``services.submit_case`` (the same validation, routing,
deadlines, events and audit as any other intake) inside one transaction; if
any row fails, nothing is kept and every problem is listed.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from typing import IO, Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fengqiao.audit.services import record
from fengqiao.core.excel import XLSX_CONTENT_TYPE, CellError, Column, SheetResult, read_sheet
from fengqiao.regions.models import Level, Region

from . import services
from .forms import communities_in_scope
from .models import Case, Category, Channel

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ADD_PERM = "cases.add_case"

#: channel names accepted in the 来源渠道 column, besides the codes and the full names
CHANNEL_ALIASES = {
    "来访": Channel.WALK_IN,
    "走访": Channel.WALK_IN,
    "现场": Channel.WALK_IN,
    "电话": Channel.PHONE,
    "来电": Channel.PHONE,
    "代办": Channel.PROXY,
    "帮办": Channel.PROXY,
    "代跑": Channel.PROXY,
    "网格员": Channel.GRID,
    "网格员上报": Channel.GRID,
    "排查": Channel.GRID,
    "二维码": Channel.QR,
    "扫码": Channel.QR,
    "导入": Channel.IMPORT,
}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_code(value: Any) -> str:
    return _text(value)


def parse_coordinate(value: Any) -> float:
    try:
        return float(_text(value))
    except ValueError as exc:
        raise ValidationError(_("Not a number: “%(value)s”.") % {"value": value}) from exc


def parse_channel(value: Any) -> str:
    text = _text(value)
    if text in Channel.values:
        return text
    if text in CHANNEL_ALIASES:
        return str(CHANNEL_ALIASES[text])
    for code, label in Channel.choices:
        if text.lower() == str(label).lower():
            return str(code)
    known = "、".join(CHANNEL_ALIASES)
    raise ValidationError(_("Unknown channel “%(value)s”. Use one of: %(known)s.") % {"value": text, "known": known})


DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)


def parse_received(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time(9, 0))
    else:
        text = _text(value).replace("T", " ")
        for fmt in DATETIME_FORMATS:
            try:
                moment = datetime.datetime.strptime(text, fmt).replace(tzinfo=timezone.get_current_timezone())
                break
            except ValueError:
                continue
        else:
            raise ValidationError(
                _("“%(value)s” is not a date and time; write it like 2026-03-15 09:30.") % {"value": value}
            )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError(_("The time of receipt is in the future."))
    if moment.year < 2000:
        raise ValidationError(_("The time of receipt is before the year 2000; check the date."))
    return moment


COLUMNS = (
    Column("category", ("类别编码", "Category code", "category"), parse=parse_code),
    Column("description", ("描述", "Description", "问题描述", "description")),
    Column("community", ("社区编码", "Community code", "community"), required=False, parse=parse_code),
    Column("address", ("地址", "Address", "address"), required=False),
    Column("lng", ("经度", "Longitude", "lng"), required=False, parse=parse_coordinate),
    Column("lat", ("纬度", "Latitude", "lat"), required=False, parse=parse_coordinate),
    Column("channel", ("来源渠道", "Channel", "channel"), required=False, parse=parse_channel),
    Column("reporter_name", ("反映人", "Reporter", "reporter_name"), required=False),
    Column("reporter_phone", ("电话", "联系电话", "Phone", "reporter_phone"), required=False),
    Column("received_at", ("受理时间", "Received at", "received_at"), parse=parse_received),
)

#: service error keys → sheet column keys
ERROR_COLUMNS = {
    "category": "category",
    "description": "description",
    "community": "community",
    "location": "lng",
    "channel": "channel",
    "reporter_phone": "reporter_phone",
    "reporter_name": "reporter_name",
    "received_at": "received_at",
    "address": "address",
}


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Excel file (.xlsx)"),
        help_text=gettext_lazy("Use the template: one case per row, the headers in the first row."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is too large (at most %(mb)d MB): split it into several files.")
                % {"mb": MAX_UPLOAD_BYTES // 1024 // 1024}
            )
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(_("Upload an Excel workbook (.xlsx); save older .xls files as .xlsx first."))
        return upload


@dataclass
class ImportResult:
    cases: list[Case] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Rollback(Exception):
    pass


def _categories() -> dict[str, list[Category]]:
    by_code: dict[str, list[Category]] = {}
    for category in Category.objects.filter(is_active=True).select_related("district"):
        by_code.setdefault(category.code.lower(), []).append(category)
    return by_code


def _category_for(options: list[Category], path: str) -> Category | None:
    """The district's own category of that code if the place has one, else the common one."""
    own = [c for c in options if c.district is not None and path.startswith(c.district.path)]
    if own:
        return own[0]
    common = [c for c in options if c.district_id is None]
    return common[0] if common else None


def import_cases(upload: IO[bytes], *, actor: Any) -> ImportResult:
    """Read the sheet and file every row as a case, or nothing (see the module docstring).

    The problems come back in sheet order (by row, then column)."""
    result = _import(upload, actor=actor)
    result.errors.sort(key=lambda e: (e.row, e.column))
    return result


def _import(upload: IO[bytes], *, actor: Any) -> ImportResult:
    sheet: SheetResult = read_sheet(upload, COLUMNS)
    result = ImportResult(errors=list(sheet.errors))
    if sheet.errors and not sheet.rows:
        return result
    if not sheet.rows and not sheet.errors:
        result.errors.append(CellError(0, "", "", _("The sheet has no rows below the headers.")))
        return result
    categories = _categories()
    today = timezone.localdate()
    current = Q(valid_to__isnull=True) | Q(valid_to__gt=today)
    codes = {r["community"] for r in sheet.rows if r.get("community")}
    communities = {
        r.code: r
        for r in Region.objects.filter(current, level=Level.COMMUNITY).filter(Q(code__in=codes) | Q(path__in=codes))
    }
    communities.update({r.path: r for r in communities.values()})
    allowed = set(communities_in_scope(actor, ADD_PERM).values_list("pk", flat=True))

    checked: list[tuple[int, dict[str, Any]]] = []
    for row_number, row in zip(sheet.row_numbers, sheet.rows, strict=True):
        ok = not any(e.row == row_number for e in sheet.errors)
        community = None
        code = row.get("community")
        if code:
            community = communities.get(code)
            if community is None:
                sheet.add_error(row_number, "community", _("No community with the code %(code)s.") % {"code": code})
                ok = False
            elif community.pk not in allowed:
                sheet.add_error(row_number, "community", _("%(name)s is outside your area.") % {"name": community.name})
                ok = False
        elif row.get("lng") is None or row.get("lat") is None:
            sheet.add_error(
                row_number, "community", _("Give the community code, or the longitude and latitude of the place.")
            )
            ok = False
        if (row.get("lng") is None) != (row.get("lat") is None):
            sheet.add_error(row_number, "lat", _("Give both longitude and latitude, or neither."))
            ok = False
        category = None
        if row.get("category"):
            options = categories.get(str(row["category"]).lower(), [])
            category = _category_for(options, community.path if community else "")
            if category is None:
                sheet.add_error(
                    row_number,
                    "category",
                    _("No active category with the code %(code)s.") % {"code": row["category"]},
                )
                ok = False
        if ok:
            checked.append((row_number, {**row, "category": category, "community": community}))
    result.errors = list(sheet.errors)
    if result.errors:
        # nothing is written while the sheet itself has problems; the service checks
        # (phone numbers, extra fields...) would only add to the list, row by row
        return result

    try:
        with transaction.atomic():
            for row_number, row in checked:
                try:
                    with transaction.atomic():
                        case = services.submit_case(
                            actor=actor,
                            category=row["category"],
                            description=row["description"] or "",
                            channel=row.get("channel") or Channel.IMPORT,
                            community=row["community"],
                            lng=row.get("lng"),
                            lat=row.get("lat"),
                            address=row.get("address") or "",
                            reporter_name=_text(row.get("reporter_name") or ""),
                            reporter_phone=_text(row.get("reporter_phone") or ""),
                            received_at=row["received_at"],
                            alert=False,
                        )
                        if case.community_id not in allowed:
                            raise PermissionDenied
                except ValidationError as exc:
                    _add_service_errors(sheet, row_number, exc)
                    continue
                except PermissionDenied:
                    sheet.add_error(row_number, "lng", _("This place is outside your area."))
                    continue
                result.cases.append(case)
            result.errors = list(sheet.errors)
            if result.errors:
                raise _Rollback
            record(
                "cases.import",
                actor=actor,
                detail={"rows": len(result.cases), "numbers": [c.number for c in result.cases][:1000]},
            )
    except _Rollback:
        result.cases = []
    return result


def _add_service_errors(sheet: SheetResult, row_number: int, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            sheet.add_error(row_number, None, message)
        return
    for key, messages in exc.message_dict.items():
        column = ERROR_COLUMNS.get(key)
        for message in messages:
            sheet.add_error(row_number, column, message)


def template_response() -> HttpResponse:
    """The import template: the header row, an example, and the category and channel codes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101 - a new workbook has a sheet
    ws.title = _("Cases")[:31]
    headers = [c.headers[0] for c in COLUMNS]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    example_category = Category.objects.filter(is_active=True).order_by("sort_order", "code").first()
    example_community = Region.objects.filter(level=Level.COMMUNITY, valid_to__isnull=True).order_by("path").first()
    ws.append(
        [
            example_category.code if example_category else "",
            "小区3号楼楼道堆放杂物，存在消防隐患",
            example_community.code if example_community else "",
            "3号楼2单元",
            None,
            None,
            "电话",
            "",
            "",
            timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        ]
    )
    for index, width in enumerate((14, 40, 16, 24, 12, 12, 12, 10, 14, 18), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    codes = wb.create_sheet(_("Category codes")[:31])
    codes.append([_("Code"), _("Category"), _("Kind"), _("Required extra information")])
    for category in Category.objects.filter(is_active=True).order_by("kind", "sort_order", "code"):
        required = [str(f.get("label") or f.get("code")) for f in category.extra_fields or [] if f.get("required")]
        codes.append([category.code, category.name, category.get_kind_display(), "、".join(required)])
    channels = wb.create_sheet(_("Channels")[:31])
    channels.append([_("Write"), _("Channel")])
    for alias, code in CHANNEL_ALIASES.items():
        channels.append([alias, str(Channel(code).label)])
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="case-import-template.xlsx"'
    return response
