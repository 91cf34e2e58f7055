from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "fengqiao.regions"
    label = "regions"
    verbose_name = _("Regions and grids")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "region.create": _("Created a region"),
                "region.update": _("Changed a region"),
                "region.retire": _("Retired a region"),
                "region.import": _("Imported regions from a file"),
                "region.import_create": _("Created a region by import"),
                "region.import_update": _("Changed a region by import"),
                "region.import_divisions": _("Imported the national division codes"),
                "region.export": _("Exported regions"),
            }
        )
