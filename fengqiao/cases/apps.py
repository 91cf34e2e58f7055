from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "fengqiao.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        from . import sweeper  # noqa: F401  (connects deadline recomputation to calendar changes)
        from .labels import ACTION_LABELS

        register_action_labels(ACTION_LABELS)
