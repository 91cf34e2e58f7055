from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "fengqiao.intake"
    label = "intake"
    verbose_name = _("Resident reporting")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "intake.submission.fail": _("Received report could not be registered"),
                "intake.submission.retry": _("Received report queued again"),
            }
        )
