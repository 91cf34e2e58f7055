from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "fengqiao.registry"
    label = "registry"
    verbose_name = _("People registry")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "registry.household.create": _("Registered a household"),
                "registry.household.update": _("Changed a household"),
                "registry.household.export": _("Exported households"),
                "registry.resident.create": _("Registered a resident"),
                "registry.resident.update": _("Changed a resident"),
                "registry.resident.export": _("Exported residents"),
            }
        )
