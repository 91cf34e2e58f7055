from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    name = "fengqiao.teams"
    label = "teams"
    verbose_name = _("Mediation and volunteer teams")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "teams.member_add": _("Added a team member"),
                "teams.member_update": _("Changed a team member"),
                "teams.member_end": _("Ended a team membership"),
                "teams.patrol_record": _("Recorded a patrol"),
                "teams.patrol_update": _("Changed a patrol record"),
                "teams.finding_report": _("Reported a patrol finding as a case"),
                "teams.resolution_export": _("Exported dispute resolution rates of teams"),
                "teams.demo_load": _("Loaded the demo teams"),
            }
        )
