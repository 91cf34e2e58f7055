"""The default special groups (特殊人群) and their visit frequencies.

Names are data (editable by the centre), stored in Chinese as the systems in
use name them; the frequencies follow common practice in grid management:
people under community correction and in drug rehabilitation are seen every
week or two, people with severe mental illness and released prisoners every
month, and welfare groups (left-behind elderly and children, people with
disabilities) every month to quarter. ``sensitive`` groups are only visible
with the permission ``registry.view_sensitive_specialgroup``.

The migration ``0003_default_groups`` installs this list; ``ensure_default_groups``
adds any that are missing (it never changes a group an administrator edited).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

#: the custom permission's name (Django stores it in English; shown translated in the role editor)
gettext_noop("Can see sensitive special groups and their members")

#: (code, name, visit every N days, sensitive, order)
DEFAULT_GROUPS: tuple[tuple[str, str, int, bool, int], ...] = (
    ("community_correction", "社区矫正对象", 7, True, 10),
    ("drug_rehab", "社区戒毒康复人员", 14, True, 20),
    ("severe_mental_illness", "严重精神障碍患者", 30, True, 30),
    ("released_prisoner", "刑满释放人员", 30, True, 40),
    ("key_petitioner", "重点信访人员", 14, True, 50),
    ("key_youth", "重点青少年", 30, True, 60),
    ("left_behind_elderly", "留守老人", 30, False, 70),
    ("elderly_living_alone", "独居老人", 14, False, 80),
    ("left_behind_children", "留守儿童", 30, False, 90),
    ("disabled", "残疾人", 90, False, 100),
    ("subsistence_allowance", "低保对象", 90, False, 110),
)

SENSITIVE_PERMISSION = "registry.view_sensitive_specialgroup"


def install_default_groups(model: Any) -> int:
    """Create the default groups missing from ``model`` (the real or the historical model)."""
    existing = set(model.objects.values_list("code", flat=True))
    new = [
        model(code=code, name=name, visit_every_days=days, sensitive=sensitive, sort_order=order)
        for code, name, days, sensitive, order in DEFAULT_GROUPS
        if code not in existing
    ]
    model.objects.bulk_create(new)
    return len(new)


def ensure_default_groups() -> int:
    from .models import SpecialGroup

    return install_default_groups(SpecialGroup)
