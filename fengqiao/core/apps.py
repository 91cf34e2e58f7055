from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fengqiao.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import lookups  # noqa: F401  (registers the "under" lookup)
