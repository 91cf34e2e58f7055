"""Forms: parse input only. Rules live in services.py, choices come restricted to the actor's scope."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fengqiao.audit.middleware import client_ip
from fengqiao.audit.models import Category
from fengqiao.audit.services import record
from fengqiao.core.scope import DataScope
from fengqiao.units.models import Unit

from . import lockout
from .models import Role
from .roles import available_permissions
from .selectors import units_for_users


def _choices(form: forms.Form, name: str) -> forms.ModelChoiceField[Any]:
    return cast("forms.ModelChoiceField[Any]", form.fields[name])


class LoginForm(AuthenticationForm):
    """Django's login form with a lockout after too many failed attempts (see lockout.py)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed logins for this account from your computer. Try again in 15 minutes, "
            "or ask an administrator to unlock the account."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else ""
        if username and lockout.is_locked(username, ip):
            record("auth.login_locked", actor_name=username, category=Category.LOGIN, result="locked")
            raise ValidationError(self.error_messages["locked"], code="locked")
        try:
            return super().clean()
        except ValidationError as exc:
            if username and getattr(exc, "code", None) == "invalid_login":
                count = lockout.register_failure(username, ip)
                left = lockout.max_failures() - count
                if left <= 0:
                    raise ValidationError(self.error_messages["locked"], code="locked") from exc
                if left <= 2:
                    raise ValidationError(
                        [
                            *exc.error_list,
                            ValidationError(
                                gettext(
                                    "%(left)d more failed attempt(s) and this account is locked for 15 minutes "
                                    "from this computer."
                                )
                                % {"left": left},
                                code="attempts_left",
                            ),
                        ]
                    ) from exc
            raise


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.none(), label=_("Unit"), required=False, empty_label=_("All units")
    )
    role = forms.ModelChoiceField(
        queryset=Role.objects.none(), label=_("Role"), required=False, empty_label=_("All roles")
    )
    active = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), ("1", _("Active")), ("0", _("Deactivated"))],
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # units whose people the actor may see (their names show in the list anyway)
        _choices(self, "unit").queryset = units_for_users(actor, "view")
        _choices(self, "role").queryset = Role.objects.restrict(actor, "view")
        self.fields["q"].widget.attrs.update({"placeholder": gettext("Username or name"), "type": "search"})


class RoleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.get_data_scope_display()})"


class UserForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Full name"), max_length=50)
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("Unit"), empty_label=_("Choose a unit"))
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    roles = RoleChoiceField(
        queryset=Role.objects.none(), label=_("Roles"), required=False, widget=forms.CheckboxSelectMultiple
    )
    password1 = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to set it later with “Reset password”. At least 10 characters, not only digits."),
    )
    password2 = forms.CharField(
        label=_("Repeat the password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # units the actor can see and may place people in
        action = "change" if editing else "add"
        _choices(self, "unit").queryset = (
            Unit.objects.restrict(actor, "view")
            .filter(pk__in=units_for_users(actor, action).values("pk"))
            .order_by("region_path", "name")
        )
        _choices(self, "roles").queryset = Role.objects.restrict(actor, "view")
        if editing:
            for name in ("username", "password1", "password2"):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1", "") != data.get("password2", ""):
            self.add_error("password2", gettext("The two passwords differ. Type the same password twice."))
        return data


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not only digits, not too similar to the username."),
    )
    password2 = forms.CharField(
        label=_("Repeat the new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", gettext("The two passwords differ. Type the same password twice."))
        return data


class OwnPasswordForm(forms.Form):
    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not only digits, not too similar to the username."),
    )
    new_password2 = forms.CharField(
        label=_("Repeat the new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", gettext("The two passwords differ. Type the same password twice."))
        return data


class RoleForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=50,
        help_text=_("Lowercase letters, digits, “_” or “-”; cannot be changed later."),
    )
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    data_scope = forms.ChoiceField(label=_("Data scope"), choices=DataScope.choices)
    custom_units = forms.ModelMultipleChoiceField(
        queryset=Unit.objects.none(),
        label=_("Units (for “selected units and below”)"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    permissions = forms.MultipleChoiceField(label=_("Permissions"), required=False)

    def __init__(self, *args: Any, actor: Any, role: Role | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "custom_units").queryset = Unit.objects.restrict(actor, "view").order_by("region_path", "name")
        cast(forms.ChoiceField, self.fields["permissions"]).choices = [
            (name, name) for name in sorted(available_permissions())
        ]
        if role is not None:
            del self.fields["code"]
            if role.is_builtin:
                self.fields["name"].disabled = True
                self.fields["data_scope"].disabled = True
                self.fields["custom_units"].disabled = True
