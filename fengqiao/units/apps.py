from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UnitsConfig(AppConfig):
    name = "fengqiao.units"
    label = "units"
    verbose_name = _("Units")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "unit.create": _("Created a unit"),
                "unit.update": _("Changed a unit"),
                "unit.deactivate": _("Deactivated a unit"),
                "unit.reactivate": _("Reactivated a unit"),
                "grid_assignment.create": _("Assigned grid responsibility"),
                "grid_assignment.end": _("Ended grid responsibility"),
                "unit.export": _("Exported units"),
                "grid_assignment.export": _("Exported grid responsibility"),
            }
        )
