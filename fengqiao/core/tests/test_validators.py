"""Resident ID numbers (GB 11643) and phone numbers. ID numbers are made up; check digits computed here."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from fengqiao.core import validators
from fengqiao.core.validators import validate_phone, validate_resident_id
from fengqiao.registry.tests.factories import id_check_char, make_id


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


SHARED_DIVISIONS = Path(__file__).resolve().parents[4] / "shared" / "external-data" / "divisions"


def test_check_char_matches_the_standard_example() -> None:
    # GB 11643-1999 appendix example: 11010519491231002X
    assert id_check_char("11010519491231002") == "X"


def test_valid_id_gives_birth_date_and_gender() -> None:
    male = validate_resident_id(make_id("110105", "19900307", 123))
    assert male.birth_date == datetime.date(1990, 3, 7)
    assert male.gender == "M"
    assert male.region_code == "110105"
    assert "朝阳" in male.region_name
    assert male.warnings == []
    female = validate_resident_id(make_id("110105", "19491231", 2))
    assert female.gender == "F"
    assert female.number.endswith("X")


def test_spacing_lower_case_and_full_width_are_accepted() -> None:
    number = make_id("110105", "19491231", 2)  # ends with X
    spaced = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    assert validate_resident_id(spaced).number == number
    fullwidth = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert validate_resident_id(fullwidth).number == number


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("11010519900307123", "id_length"),  # 17
        ("1101051990030712345", "id_length"),  # 19
        ("110105900307123", "id_length"),  # first-generation 15-digit numbers are no longer valid
        ("11010519900307A234", "id_format"),
        ("X10105199003071234", "id_format"),
    ],
)
def test_malformed_ids_are_rejected(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_resident_id(value)
    assert info.value.code == code


def test_wrong_check_digit_is_rejected_with_a_clear_message() -> None:
    number = make_id()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        validate_resident_id(wrong)
    assert info.value.code == "id_checksum"
    assert "check digit" in info.value.messages[0]


@pytest.mark.parametrize("birth", ["19900230", "19901301", "18700101", "20991231"])
def test_impossible_birth_date_is_rejected(birth: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_resident_id(make_id("110105", birth, 123))
    assert info.value.code == "id_birth_date"
    assert birth in info.value.messages[0]


def test_messages_are_translated() -> None:
    with translation.override("zh-hans"), pytest.raises(ValidationError) as info:
        validate_resident_id("123")
    assert "18" in info.value.messages[0]
    assert "ID number" not in info.value.messages[0]


def test_unknown_region_is_only_a_warning() -> None:
    check = validate_resident_id(make_id("999999", "19900307", 123))
    assert check.birth_date == datetime.date(1990, 3, 7)
    assert len(check.warnings) == 1
    assert "999999" in check.warnings[0]


def test_region_abolished_before_birth_is_only_a_warning() -> None:
    # 110103 (Chongwen district) was merged away in 2010
    check = validate_resident_id(make_id("110103", "20150101", 123))
    assert any("110103" in w and "2015" in w for w in check.warnings)


def test_without_division_history_no_created_after_check(tmp_path: Path) -> None:
    validators._load_divisions.cache_clear()
    with override_settings(FENGQIAO_DIVISIONS_CSV=str(tmp_path / "absent.csv")):
        assert validators.divisions() is None
        # 330113 (Yuhang district, 2021) is not in python-stdnum's table: "unknown", no history check
        check = validate_resident_id(make_id("330113", "19900307", 123))
        assert len(check.warnings) == 1
        assert "not a known" in check.warnings[0]


@pytest.mark.skipif(
    not (SHARED_DIVISIONS / "areacodes_result.csv").exists(), reason="shared GB/T 2260 history not installed"
)
def test_region_created_after_birth_year_is_a_warning() -> None:
    with override_settings(FENGQIAO_DIVISIONS_CSV=str(SHARED_DIVISIONS / "areacodes_result.csv")):
        check = validate_resident_id(make_id("330113", "19900307", 123))
        assert len(check.warnings) == 1
        assert "2021" in check.warnings[0] and "1990" in check.warnings[0]
        assert check.region_name  # the name comes from the history file
        # born after the code was created: no warning
        assert validate_resident_id(make_id("330113", "20220307", 123)).warnings == []
        # codes already in the 1981 table are not "created in 1981"
        assert validate_resident_id(make_id("110105", "19500101", 123)).warnings == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("010-12345678", "01012345678"),
        ("(0755) 1234 5678", "075512345678"),
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_valid_phones_are_normalised(value: str, expected: str) -> None:
    assert validate_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("abc", "phone_format"),
        ("12345678", "phone_invalid"),  # a landline without its area code
        ("1380013800", "phone_invalid"),  # 10 digits
        ("4008123123", "phone_type"),  # a company's service number
    ],
)
def test_invalid_phones_are_rejected(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_phone(value)
    assert info.value.code == code
    if code != "required":
        assert "010-12345678" in info.value.messages[0]  # says how to fix it
