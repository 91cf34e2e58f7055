"""Readable names of the Open311 audit actions."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    "open311.client.create": _("Issued an Open311 API key"),
    "open311.client.revoke": _("Revoked an Open311 API key"),
    "open311.request.submit": _("Received an Open311 service request"),
}
