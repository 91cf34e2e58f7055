"""The code and hierarchy rules of the region tree, shared by the services and the importers.

Each check returns the messages for the user (empty when fine), so the
importers can collect every problem of a file before writing anything.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .models import PATH_WIDTH, Level

#: levels created by hand or by import, and the level their parent must have
PARENT_LEVEL: dict[int, int] = {
    Level.STREET: Level.COUNTY,
    Level.COMMUNITY: Level.STREET,
    Level.GRID: Level.COMMUNITY,
}
CREATABLE_LEVELS = tuple(PARENT_LEVEL)
CODE_LENGTH: dict[int, int] = {
    Level.PROVINCE: 12,
    Level.PREFECTURE: 12,
    Level.COUNTY: 12,
    Level.STREET: 12,
    Level.COMMUNITY: 12,
    Level.GRID: 15,
}


def level_label(level: int) -> str:
    try:
        return str(Level(level).label)
    except ValueError:
        return str(level)


def path_for(code: str, level: int) -> str:
    """The significant prefix of ``code`` at ``level`` (2, 4, 6, 9, 12 or 15 digits)."""
    return code[: PATH_WIDTH[Level(level)]]


def normalise_code(value: Any) -> str:
    """A code cell as text: Excel may hand over 440305001000 as an int or a float."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value if value is not None else "").strip().replace(" ", "")


def level_problems(level: int, parent_level: int | None) -> list[str]:
    if level not in PARENT_LEVEL:
        return [
            _(
                "Only streets/towns, communities/villages and grids can be created here; provinces, prefectures "
                "and districts/counties come from the GB/T 2260 division import."
            )
        ]
    wanted = PARENT_LEVEL[level]
    if parent_level != wanted:
        return [
            _("A %(level)s must be placed under a %(wanted)s, but the chosen parent is a %(parent)s.")
            % {
                "level": level_label(level),
                "wanted": level_label(wanted),
                "parent": level_label(parent_level) if parent_level is not None else "—",
            }
        ]
    return []


def code_problems(code: str, level: int, parent_code: str | None, parent_level: int | None) -> list[str]:
    """Is ``code`` a well-formed code for ``level`` that extends its parent's path?"""
    if not code:
        return [_("The code is required.")]
    if not code.isdigit():
        return [_("The code “%(code)s” must contain digits only.") % {"code": code}]
    try:
        lvl = Level(level)
    except ValueError:
        return []
    length = CODE_LENGTH[lvl]
    if len(code) != length:
        return [
            _("A %(level)s code has %(n)s digits; “%(code)s” has %(m)s.")
            % {"level": level_label(level), "n": length, "code": code, "m": len(code)}
        ]
    problems: list[str] = []
    width = PATH_WIDTH[lvl]
    if parent_code and parent_level is not None and parent_level in PATH_WIDTH:
        parent_path = parent_code[: PATH_WIDTH[Level(parent_level)]]
        if not code.startswith(parent_path):
            problems.append(
                _(
                    "The code “%(code)s” must begin with the parent's code digits “%(prefix)s” "
                    "(the parent is %(parent)s)."
                )
                % {"code": code, "prefix": parent_path, "parent": parent_code}
            )
            return problems
        own = code[len(parent_path) : width]
        if own and set(own) == {"0"}:
            problems.append(
                _(
                    "Digits %(start)s–%(end)s of the code (“%(own)s”) are this %(level)s's own number "
                    "and must not be all zeros."
                )
                % {"start": len(parent_path) + 1, "end": width, "own": own, "level": level_label(level)}
            )
    rest = code[width:]
    if rest and set(rest) != {"0"}:
        problems.append(
            _("A %(level)s code ends with %(n)s zeros (“%(zeros)s”); “%(code)s” ends with “%(rest)s”.")
            % {"level": level_label(level), "n": len(rest), "zeros": "0" * len(rest), "code": code, "rest": rest}
        )
    return problems


LEVEL_WORDS: dict[str, int] = {
    "4": Level.STREET,
    "street": Level.STREET,
    "town": Level.STREET,
    "street/town": Level.STREET,
    "街道": Level.STREET,
    "乡镇": Level.STREET,
    "镇": Level.STREET,
    "乡": Level.STREET,
    "街道/乡镇": Level.STREET,
    "街道乡镇": Level.STREET,
    "5": Level.COMMUNITY,
    "community": Level.COMMUNITY,
    "village": Level.COMMUNITY,
    "community/village": Level.COMMUNITY,
    "社区": Level.COMMUNITY,
    "村": Level.COMMUNITY,
    "社区/村": Level.COMMUNITY,
    "社区村": Level.COMMUNITY,
    "村/社区": Level.COMMUNITY,
    "6": Level.GRID,
    "grid": Level.GRID,
    "网格": Level.GRID,
}


def parse_level(value: Any) -> int:
    """A level given as a number or a word (街道, 社区, 网格, street, community, grid...)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lower().replace(" ", "")
    if text in LEVEL_WORDS:
        return LEVEL_WORDS[text]
    for choice in (Level.STREET, Level.COMMUNITY, Level.GRID):
        if text == str(choice.label).lower().replace(" ", ""):
            return int(choice)
    raise ValueError(
        _("Unknown level “%(value)s”: write 街道 (street/town), 社区 (community/village) or 网格 (grid).")
        % {"value": value}
    )
