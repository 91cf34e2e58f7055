"""Dictionaries (code lists) and system parameters, editable at run time."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec

#: configuration of the whole platform, not tied to a place: whoever has the permission sees every row
SHARED = ScopeSpec(region_path=None, shared=True)


class Dictionary(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = SHARED

    class Meta:
        verbose_name = _("dictionary")
        verbose_name_plural = _("dictionaries")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class DictionaryItem(models.Model):
    dictionary = models.ForeignKey(Dictionary, on_delete=models.CASCADE, related_name="items")
    value = models.CharField(_("value"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    label_en = models.CharField(_("English label"), max_length=100, blank=True)
    sort_order = models.IntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dictionary item")
        verbose_name_plural = _("dictionary items")
        ordering = ["dictionary", "sort_order", "value"]
        constraints = [models.UniqueConstraint(fields=["dictionary", "value"], name="dictionary_item_unique")]

    def __str__(self) -> str:
        return self.label


class ParameterType(models.TextChoices):
    STRING = "string", _("Text")
    INTEGER = "integer", _("Whole number")
    DECIMAL = "decimal", _("Number")
    BOOLEAN = "boolean", _("Yes / no")
    JSON = "json", _("JSON")


class Parameter(models.Model):
    key = models.CharField(_("key"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=100)
    value_type = models.CharField(_("type"), max_length=10, choices=ParameterType.choices, default=ParameterType.STRING)
    value = models.JSONField(_("value"))
    description = models.TextField(_("description"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = SHARED

    class Meta:
        verbose_name = _("system parameter")
        verbose_name_plural = _("system parameters")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
