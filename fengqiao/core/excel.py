"""Excel import and export, shared by every list and every importer.

Export: ``excel_response(filename, headers, rows)`` streams an .xlsx built
with openpyxl's write-only mode (constant memory for large lists).

Import: ``read_sheet(upload, columns)`` reads the first sheet, matches the
header row against each column's accepted headers (Chinese or English),
parses every cell and collects *every* problem with its row number and
column letter. Callers write nothing unless the error list is empty (all or
nothing), inside one transaction.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_IMPORT_ROWS = 200_000
#: the largest list any staff page exports in one file (narrower filters beyond that)
EXPORT_MAX_ROWS = 100_000


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None)
    if value is None or isinstance(value, (str, int, float, bool, datetime.date)):
        return value
    return str(value)


def write_workbook(
    target: IO[bytes] | str, headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = ""
) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=(title or "Sheet1")[:31])
    ws.append(list(headers))
    for row in rows:
        ws.append([_cell(v) for v in row])
    wb.save(target)


def excel_response(
    filename: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = ""
) -> FileResponse:
    """An .xlsx download of ``rows`` under ``headers``."""
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
    write_workbook(tmp, headers, rows, title)
    tmp.seek(0)
    if not filename.endswith(".xlsx"):
        filename += ".xlsx"
    return FileResponse(tmp, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


@dataclass(frozen=True)
class Column:
    """One expected column of an import sheet.

    ``headers``: header texts accepted for it (e.g. ("身份证号", "ID number")).
    ``parse``: turns the raw cell into the value, raising ValidationError with
    a message in the user's language; ``required`` empty cells are errors.
    """

    key: str
    headers: tuple[str, ...]
    required: bool = True
    parse: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class CellError:
    row: int  # 1-based sheet row, as Excel shows it
    column: str  # column letter, "" for a whole-row or whole-file problem
    header: str
    message: str

    def __str__(self) -> str:
        where = _("row %(row)s") % {"row": self.row} if self.row else _("file")
        if self.column:
            where += _(", column %(column)s (%(header)s)") % {"column": self.column, "header": self.header}
        return f"{where}: {self.message}"


@dataclass
class SheetResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    #: column key -> (letter, header text as found in the sheet)
    positions: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, row: int, column_key: str | None, message: str) -> None:
        """Record a problem found by the caller's own checks (duplicates, references...)."""
        letter, header = self.positions.get(column_key or "", ("", ""))
        self.errors.append(CellError(row, letter, header, message))


def _norm_header(value: Any) -> str:
    return str(value or "").strip().lower().replace(" ", "").replace("*", "")


def read_sheet(upload: IO[bytes], columns: Sequence[Column]) -> SheetResult:
    """Parse the first sheet of an .xlsx upload; see the module docstring."""
    result = SheetResult()
    try:
        wb = load_workbook(upload, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError) as exc:
        result.errors.append(CellError(0, "", "", _("The file is not a readable Excel (.xlsx) workbook: %s") % exc))
        return result
    except Exception as exc:  # zipfile.BadZipFile and friends
        result.errors.append(CellError(0, "", "", _("The file is not a readable Excel (.xlsx) workbook: %s") % exc))
        return result
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header_row = next(rows, None)
    if header_row is None:
        result.errors.append(CellError(0, "", "", _("The sheet is empty.")))
        return result
    index: dict[str, int] = {}
    positions = result.positions
    normalised = [_norm_header(h) for h in header_row]
    for col in columns:
        wanted = {_norm_header(h) for h in (col.key, *col.headers)}
        for i, name in enumerate(normalised):
            if name in wanted:
                index[col.key] = i
                positions[col.key] = (get_column_letter(i + 1), str(header_row[i]))
                break
        else:
            if col.required:
                result.errors.append(
                    CellError(1, "", col.headers[0], _("Missing column “%(name)s”.") % {"name": col.headers[0]})
                )
    if result.errors:
        return result
    for offset, raw in enumerate(rows, start=2):
        if raw is None or all(v is None or str(v).strip() == "" for v in raw):
            continue
        if len(result.row_numbers) >= MAX_IMPORT_ROWS:
            result.errors.append(CellError(offset, "", "", _("Too many rows (at most %d).") % MAX_IMPORT_ROWS))
            break
        values: dict[str, Any] = {}
        for col in columns:
            if col.key not in index:
                values[col.key] = None
                continue
            i = index[col.key]
            cell = raw[i] if i < len(raw) else None
            if isinstance(cell, str):
                cell = cell.strip()
            if cell is None or cell == "":
                if col.required:
                    result.add_error(offset, col.key, _("This cell is required."))
                values[col.key] = None
                continue
            try:
                values[col.key] = col.parse(cell) if col.parse else cell
            except ValidationError as exc:
                for message in exc.messages:
                    result.add_error(offset, col.key, message)
            except (TypeError, ValueError) as exc:
                result.add_error(offset, col.key, str(exc))
        result.rows.append(values)
        result.row_numbers.append(offset)
    wb.close()
    return result
