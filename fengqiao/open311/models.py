"""Open311 GeoReport v2: the clients that may post service requests, and what they posted.

``ApiClient``: one per integrating system (an app, another platform). Its key is
shown once when issued; only a SHA-256 hash is stored (keys are 256-bit random
values, so a plain hash cannot be reversed by guessing), with an 8-character
prefix to recognise it in lists. A revoked key stops working at once.

``PostedRequest``: one row per accepted ``POST requests``: the token the client can
resolve with ``tokens/{token}``, the client, the case number once the case
exists (empty while the intake inbox has not turned it into a case yet) and the
``media_url`` the client sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    name = models.CharField(_("name"), max_length=100)
    contact = models.CharField(_("contact"), max_length=200, blank=True, help_text=_("Who runs the client system"))
    key_prefix = models.CharField(_("key prefix"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    requests_per_minute = models.PositiveIntegerField(
        _("requests per minute"), default=60, help_text=_("Rate limit for this key; 0 means no limit")
    )
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 API client")
        verbose_name_plural = _("Open311 API clients")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key_hash"], name="open311_apiclient_key_hash_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PostedRequest(models.Model):
    token = models.CharField(max_length=40)
    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="posted_requests")
    case_number = models.CharField(max_length=20, blank=True)
    media_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 posted request")
        verbose_name_plural = _("Open311 posted requests")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["token"], name="open311_postedrequest_token_unique")]
        indexes = [models.Index(fields=["case_number"], name="open311_postedrequest_case_idx")]

    def __str__(self) -> str:
        return self.token
