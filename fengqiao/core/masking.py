"""Masked display of personal data (e.g. ``110101********1234``, ``138****5678``).

Rules (what a mask may show, never more):

- ID number: the first 6 (region) and last 4 characters, only for a full-length
  number (15 or 18 characters); anything shorter is masked completely, so a
  mistyped short value is never shown nearly in full.
- phone: first 3 and last 4 digits for numbers of 11 or more characters
  (``138****5678``, ``010****5678``); only the last 4 for 8 to 10 characters;
  nothing below that (a 7-digit number would otherwise be shown whole).
- name: the first character (the surname in most Chinese names).
- free text: nothing.
"""

from __future__ import annotations


def _keep(value: str, head: int, tail: int) -> str:
    hidden = len(value) - head - tail
    if hidden <= 0:
        return "*" * len(value)
    return value[:head] + "*" * hidden + (value[-tail:] if tail else "")


def mask_id_number(value: str) -> str:
    value = value.strip().upper()
    if len(value) < 15:
        return "*" * len(value)
    return _keep(value, 6, 4)


def mask_phone(value: str) -> str:
    value = value.strip()
    if len(value) >= 11:
        return _keep(value, 3, 4)
    if len(value) >= 8:
        return _keep(value, 0, 4)
    return "*" * len(value)


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
