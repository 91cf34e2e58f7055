from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridConfig(AppConfig):
    name = "fengqiao.grid"
    label = "grid"
    verbose_name = _("Visits and household tiers")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        from .labels import ACTION_LABELS

        register_action_labels(ACTION_LABELS)
