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
                "registry.resident.import": _("Imported residents from Excel"),
                "registry.membership.create": _("Added a resident to a special group"),
                "registry.membership.update": _("Changed a special-group membership"),
                "registry.membership.delete": _("Removed a special-group membership"),
                "registry.place.create": _("Registered a place"),
                "registry.place.update": _("Changed a place"),
                "registry.place.export": _("Exported places"),
                "registry.place.import": _("Imported places from Excel"),
                "registry.organisation.import": _("Imported organisations from Excel"),
                "registry.organisation.create": _("Registered an organisation"),
                "registry.organisation.update": _("Changed an organisation"),
                "registry.organisation.export": _("Exported organisations"),
            }
        )
