from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Open311Config(AppConfig):
    name = "fengqiao.open311"
    label = "open311"
    verbose_name = _("Open311 API")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        from .labels import ACTION_LABELS

        register_action_labels(ACTION_LABELS)
