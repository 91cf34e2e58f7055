from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "fengqiao.demo"
    label = "demo"
    verbose_name = _("Demo district")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "demo.load": _("Loaded the demo district"),
            }
        )
