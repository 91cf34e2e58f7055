from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "fengqiao.accounts"
    label = "accounts"
    verbose_name = _("People and permissions")

    def ready(self) -> None:
        from fengqiao.audit.labels import register_action_labels

        register_action_labels(
            {
                "accounts.user.create": _("Created a user"),
                "accounts.user.update": _("Changed a user"),
                "accounts.user.deactivate": _("Deactivated a user"),
                "accounts.user.reactivate": _("Reactivated a user"),
                "accounts.user.reset_password": _("Reset a user's password"),
                "accounts.user.change_password": _("Changed own password"),
                "accounts.user.unlock": _("Unlocked a user"),
                "accounts.role.create": _("Created a role"),
                "accounts.role.update": _("Changed a role"),
                "accounts.role.delete": _("Deleted a role"),
                "accounts.role.sync": _("Synchronised a built-in role"),
                "accounts.user.export": _("Exported users"),
                "accounts.role.export": _("Exported roles"),
                "accounts.token.create": _("Created an API token"),
                "accounts.token.revoke": _("Revoked an API token"),
                "accounts.token.refused": _("Refused a revoked or expired API token"),
            }
        )
