from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkdaysConfig(AppConfig):
    name = "fengqiao.workdays"
    label = "workdays"
    verbose_name = _("Working-day calendar")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        from . import deadlines, signals
        from .labels import ACTION_LABELS

        register_action_labels(ACTION_LABELS)

        # this process's cached calendar is dropped at once; other processes notice the new
        # year version on their next read (see fengqiao.workdays.deadlines)
        signals.calendar_changed.connect(deadlines.on_calendar_changed, dispatch_uid="workdays.invalidate")
