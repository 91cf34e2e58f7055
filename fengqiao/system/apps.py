from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SystemConfig(AppConfig):
    name = "fengqiao.system"
    label = "system"
    verbose_name = _("Dictionaries and parameters")
