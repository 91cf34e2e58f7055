"""Masked display of personal data (e.g. ``110101********1234``, ``138****5678``)."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    value = value.strip().upper()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if len(value) == 1:
        return "*"
    return value[0] + "*" * (len(value) - 1)


def mask_text(value: str) -> str:
    return "***" if value else ""


MASKERS = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "name": mask_name,
    "text": mask_text,
}


def mask(kind: str, value: str) -> str:
    return MASKERS[kind](value)
