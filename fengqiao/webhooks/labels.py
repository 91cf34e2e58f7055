"""Readable names of the webhook audit actions."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    "webhooks.subscription.create": _("Registered a webhook subscriber"),
    "webhooks.subscription.update": _("Changed a webhook subscriber"),
    "webhooks.subscription.delete": _("Deleted a webhook subscriber"),
    "webhooks.subscription.pause": _("Paused a webhook subscriber"),
    "webhooks.subscription.resume": _("Resumed a webhook subscriber"),
    "webhooks.subscription.auto_pause": _("Paused a failing webhook subscriber automatically"),
    "webhooks.subscription.rotate_secret": _("Rotated a webhook signing secret"),
    "webhooks.subscription.ping": _("Sent a test event to a webhook subscriber"),
    "webhooks.delivery.resend": _("Resent a webhook delivery"),
}
