from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_threshold(mapping: Any, key: str) -> Any:
    """``mapping[key]`` for a dict in a template ("" when absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""
