"""Reading dictionaries and system parameters, cached.

``get_parameter("intake.max_photo_mb", 10)`` and ``dictionary_items("case_type")``
are what the rest of the platform calls. Both are cached in Django's cache and
invalidated by every change made through ``fengqiao.system.services`` (now
and again when the transaction commits). With a shared cache (Redis) every
process sees a change at once; with the per-process local-memory cache other
processes (the background worker) see it after at most ``CACHE_SECONDS``.

Dictionaries and parameters are global configuration, not tied to a place:
the pages read them through ``restrict`` with a shared scope spec, so any
grant of the model permission sees every row and a user without it sees none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import get_language

from .models import Dictionary, DictionaryItem, Parameter, ParameterType

CACHE_SECONDS = 60
_PARAM_KEY = "fengqiao:system:param:{}"
_DICT_KEY = "fengqiao:system:dict:{}"
_MISSING = "__missing__"


class Entry(NamedTuple):
    value: str
    label: str
    label_en: str
    sort_order: int
    is_active: bool

    def display(self, language: str | None = None) -> str:
        """The label in ``language`` (the active one by default): English when asked and given."""
        language = language or get_language() or ""
        if language.startswith("en") and self.label_en:
            return self.label_en
        return self.label


def _cache_key(template: str, name: str) -> str:
    # cache keys must be short and free of spaces/control characters (memcached rules)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:180]
    return template.format(safe)


def get_parameter(key: str, default: Any = None) -> Any:
    """The typed value of parameter ``key`` (int, Decimal, bool, str or JSON), or ``default`` if undefined."""
    cache_key = _cache_key(_PARAM_KEY, key)
    cached = cache.get(cache_key)
    if cached is None:
        row = Parameter.objects.filter(key=key).values_list("value_type", "value").first()
        cached = _MISSING if row is None else (row[0], row[1])
        cache.set(cache_key, cached, CACHE_SECONDS)
    if cached == _MISSING:
        return default
    value_type, value = cached
    if value_type == ParameterType.DECIMAL and value is not None:
        return Decimal(str(value))
    return value


def dictionary_items(code: str, include_inactive: bool = False) -> list[Entry]:
    """The items of dictionary ``code`` in display order (active ones only by default); [] if undefined."""
    cache_key = _cache_key(_DICT_KEY, code)
    entries: list[Entry] | None = cache.get(cache_key)
    if entries is None:
        rows = DictionaryItem.objects.filter(dictionary__code=code).order_by("sort_order", "value")
        entries = [
            Entry(r.value, r.label, r.label_en, r.sort_order, r.is_active)
            for r in rows.only("value", "label", "label_en", "sort_order", "is_active")
        ]
        cache.set(cache_key, entries, CACHE_SECONDS)
    return list(entries) if include_inactive else [e for e in entries if e.is_active]


def dictionary_choices(code: str) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a form field, labels in the active language."""
    return [(e.value, e.display()) for e in dictionary_items(code)]


def dictionary_label(code: str, value: str) -> str:
    """The label of ``value`` in dictionary ``code`` (inactive items too); the value itself if unknown."""
    for entry in dictionary_items(code, include_inactive=True):
        if entry.value == value:
            return entry.display()
    return value


def _invalidate(cache_key: str) -> None:
    cache.delete(cache_key)
    transaction.on_commit(lambda: cache.delete(cache_key))


def invalidate_parameter(key: str) -> None:
    _invalidate(_cache_key(_PARAM_KEY, key))


def invalidate_dictionary(code: str) -> None:
    _invalidate(_cache_key(_DICT_KEY, code))


# --- lists for the pages ---------------------------------------------------------------


def parameters(user: Any, action: str = "view") -> QuerySet[Parameter]:
    """The parameters ``user`` may see (or change, delete): all of them with the permission, none without."""
    return Parameter.objects.restrict(user, action)


def dictionaries(user: Any, action: str = "view") -> QuerySet[Dictionary]:
    return Dictionary.objects.restrict(user, action)


def visible_items(user: Any, action: str = "view") -> QuerySet[DictionaryItem]:
    """Items are seen and changed with their dictionary (view / change the dictionary)."""
    return DictionaryItem.objects.filter(dictionary__in=dictionaries(user, action).values("pk"))


def parameter_list(user: Any, q: str = "", value_type: str = "") -> QuerySet[Parameter]:
    qs = parameters(user)
    if q:
        qs = qs.filter(Q(key__icontains=q) | Q(name__icontains=q) | Q(description__icontains=q))
    if value_type:
        qs = qs.filter(value_type=value_type)
    return qs.order_by("key")


def dictionary_list(user: Any, q: str = "") -> QuerySet[Dictionary]:
    """Dictionaries ``user`` may see matching ``q`` in code, name or an item's label/value, with ``item_count``."""
    qs = dictionaries(user)
    if q:
        by_item = DictionaryItem.objects.filter(Q(label__icontains=q) | Q(value__iexact=q)).values("dictionary_id")
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(pk__in=by_item))
    return qs.annotate(item_count=Count("items")).order_by("code")
