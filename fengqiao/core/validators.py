"""Checks for personal identifiers: the resident ID number and phone numbers.

``validate_resident_id`` follows GB 11643: 17 digits and an ISO 7064 MOD 11-2
check character, with the birth date in digits 7-14 and the gender in digit
17. A wrong length, format, check character or birth date is rejected. The
region code (digits 1-6) is only *warned* about: real ID numbers carry codes
that python-stdnum's table does not know, and codes created after the
holder's birth year (the number was issued where the person was registered
later). The GB/T 2260 history in the shared external data folder
(``FENGQIAO_DIVISIONS_CSV``) is used for the "created after the birth year"
check when it is present.
"""

from __future__ import annotations

import csv
import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric

from .personal import normalise

#: the first year of the GB/T 2260 history: a code first seen then may be older
DIVISIONS_FIRST_YEAR = 1981
EARLIEST_BIRTH_YEAR = 1880

_ID_FORMAT = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdCheck:
    number: str  # normalised: 18 characters, upper-case X
    birth_date: datetime.date
    gender: str  # "M" or "F" (17th digit odd = male)
    region_code: str
    region_name: str = ""
    warnings: list[str] = field(default_factory=list)


def _divisions_path() -> Path:
    configured = getattr(settings, "FENGQIAO_DIVISIONS_CSV", None)
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR).parent / "shared" / "external-data" / "divisions" / "areacodes_result.csv"


@functools.lru_cache(maxsize=4)
def _load_divisions(path: str) -> dict[str, tuple[int, str]] | None:
    """Code -> (first year it was in use, its latest name), or None if the file is absent."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError:
        return None
    known: dict[str, tuple[int, str]] = {}
    with handle:
        reader = csv.reader(handle)
        next(reader, None)  # header: 代码,一级行政区,二级行政区,名称,级别,状态,启用时间,...
        for row in reader:
            if len(row) < 7 or not row[0].isdigit() or not row[6].strip().isdigit():
                continue
            code, year = row[0], int(row[6])
            name = f"{row[1]}{row[3]}" if row[1] != row[3] else row[3]
            if code not in known:
                known[code] = (year, name)
            else:
                first, latest = known[code]
                known[code] = (min(first, year), name if year > first else latest)
    return known


def divisions() -> dict[str, tuple[int, str]] | None:
    """GB/T 2260 codes since 1981 (first-use year, name), loaded on first use;
    None when the external data are not installed."""
    return _load_divisions(str(_divisions_path()))


@functools.lru_cache(maxsize=65536)
def _stdnum_region(code: str, birth_year: int) -> tuple[str, str | None]:
    """(name, problem) for a region code according to python-stdnum's table."""
    results = numdb.get("cn/loc").info(code)
    info = {k: v for _part, props in results for k, v in props.items()}
    if not info.get("county"):
        return "", "unknown"
    names = []
    for county in info["county"].split(","):
        if not county.startswith("["):
            return f"{info.get('province', '')}{county}", None
        span, name = county[1:].split("]", 1)
        start, end = span.split("-")
        names.append(name)
        if (not start or birth_year >= int(start)) and (not end or birth_year <= int(end)):
            return f"{info.get('province', '')}{name}", None
    return f"{info.get('province', '')}{names[-1] if names else ''}", "not_at_birth"


def validate_resident_id(value: str) -> IdCheck:
    """Check a mainland resident ID number (居民身份证号码); see the module docstring.

    Raises ``ValidationError`` (code ``id_length``, ``id_format``,
    ``id_checksum`` or ``id_birth_date``) with a message saying how to fix it.
    """
    number = normalise("id_number", str(value or ""))
    if not number:
        raise ValidationError(_("Enter the ID number."), code="required")
    if len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(count)d. Check for missing or extra digits.")
            % {"count": len(number)},
            code="id_length",
        )
    if not _ID_FORMAT.match(number):
        raise ValidationError(
            _("An ID number is 17 digits followed by a digit or the letter X. Remove any other characters."),
            code="id_format",
        )
    if ric.calc_check_digit(number) != number[-1]:
        raise ValidationError(
            _("The last character (check digit) does not match the other 17 digits: a digit was probably mistyped."),
            code="id_checksum",
        )
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    if birth is None or birth.year < EARLIEST_BIRTH_YEAR or birth > timezone.localdate():
        raise ValidationError(
            _("Digits 7 to 14 must be a real date of birth (YYYYMMDD, not in the future); “%(digits)s” is not.")
            % {"digits": number[6:14]},
            code="id_birth_date",
        )
    gender = "M" if int(number[16]) % 2 == 1 else "F"
    region_code = number[:6]
    warnings: list[str] = []
    region_name, problem = _stdnum_region(region_code, birth.year)
    if problem == "unknown":
        warnings.append(
            _("The region code %(code)s (first 6 digits) is not a known administrative division; please double-check.")
            % {"code": region_code}
        )
    elif problem == "not_at_birth":
        warnings.append(
            _(
                "The region code %(code)s did not exist in the birth year %(year)d; this happens with "
                "IDs issued after a move or a re-division, but please double-check."
            )
            % {"code": region_code, "year": birth.year}
        )
    if problem != "not_at_birth":
        history = divisions()
        known = history.get(region_code) if history else None
        if known is not None:
            first, name = known
            region_name = region_name or name
            if problem == "unknown":
                warnings.clear()  # the fuller GB/T 2260 history knows it
            if first > DIVISIONS_FIRST_YEAR and first > birth.year:
                warnings.append(
                    _(
                        "The region code %(code)s was created in %(created)d, after the birth year %(year)d; "
                        "this happens with IDs issued after a move or a re-division, but please double-check."
                    )
                    % {"code": region_code, "created": first, "year": birth.year}
                )
    return IdCheck(
        number=number,
        birth_date=birth,
        gender=gender,
        region_code=region_code,
        region_name=region_name,
        warnings=warnings,
    )


_CN_PERSONAL_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def validate_phone(value: str) -> str:
    """Check a phone number and return it normalised.

    Mainland numbers come back as national digits (``13800138000``,
    ``01012345678``: a landline keeps its area code with the leading 0);
    other countries' numbers in E.164 (``+85291234567``).
    """
    raw = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not raw:
        raise ValidationError(_("Enter the phone number."), code="required")
    hint = _("Enter an 11-digit mobile number (e.g. 13800138000) or a landline with its area code (e.g. 010-12345678).")
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number. %(hint)s") % {"value": raw, "hint": hint}, code="phone_format"
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number. %(hint)s") % {"value": raw, "hint": hint}, code="phone_invalid"
        )
    region = phonenumbers.region_code_for_number(parsed)
    if region != "CN":
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.number_type(parsed) not in _CN_PERSONAL_TYPES:
        raise ValidationError(
            _("“%(value)s” is a service number (such as 400 or 800), not a personal phone. %(hint)s")
            % {"value": raw, "hint": hint},
            code="phone_type",
        )
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"\D", "", national)
