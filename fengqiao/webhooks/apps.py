from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "fengqiao.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        from .labels import ACTION_LABELS

        register_action_labels(ACTION_LABELS)
