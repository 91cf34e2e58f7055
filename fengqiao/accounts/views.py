"""Staff pages for people and permissions. Views parse forms, call services and render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fengqiao.audit.middleware import client_ip
from fengqiao.audit.models import Category
from fengqiao.audit.services import record
from fengqiao.core.excel import excel_response
from fengqiao.core.masking import mask

from . import lockout, selectors, services
from .forms import LoginForm, OwnPasswordForm, RoleForm, SetPasswordForm, UserFilterForm, UserForm
from .models import Role, User
from .permissions import perm_label, permission_matrix

PAGE_SIZE = 25


def _perm(perm: str) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Login first (redirect), then the model permission (403)."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorator


def _apply_errors(
    form: forms.Form, exc: ValidationError | PermissionDenied, rename: dict[str, str] | None = None
) -> None:
    """Show a service's refusal on the form: field-keyed messages on their fields."""
    if isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc) or _("You are not allowed to do this."))
        return
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            field = (rename or {}).get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _refused(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    text = str(exc) if isinstance(exc, PermissionDenied) else " ".join(exc.messages)
    messages.error(request, text or _("You are not allowed to do this."))


# --- login and own account -----------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        lockout.clear(form.get_user().get_username(), client_ip(self.request))
        return super().form_valid(form)


@login_required
def my_account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = OwnPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_own_password(
                user=user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password has been changed."))
            return redirect("accounts:my_account")
    rows = sorted(user.roles.all(), key=lambda role: role.code)
    return render(request, "accounts/my_account.html", {"form": form, "roles": rows})


# --- users ---------------------------------------------------------------------------------


def _filtered_users(request: HttpRequest) -> tuple[UserFilterForm, Any]:
    form = UserFilterForm(request.GET or None, actor=request.user)
    form.is_valid()  # an invalid field is ignored, the valid ones still filter
    data = getattr(form, "cleaned_data", {})
    active = {"1": True, "0": False}.get(data.get("active") or "")
    qs = selectors.user_list(
        request.user, q=data.get("q", ""), unit=data.get("unit"), role=data.get("role"), active=active
    )
    return form, qs


@_perm("accounts.view_user")
def user_list(request: HttpRequest) -> HttpResponse:
    form, qs = _filtered_users(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": form, "page": page, "query": query.urlencode()}
    template = "accounts/_user_table.html" if getattr(request, "htmx", False) else "accounts/user_list.html"
    return render(request, template, context)


@_perm("accounts.view_user")
def user_export(request: HttpRequest) -> HttpResponseBase:
    _form, qs = _filtered_users(request)
    headers = [
        _("Username"),
        _("Full name"),
        _("Unit"),
        _("Roles"),
        _("Phone"),
        _("Active"),
        _("Last login"),
        _("Joined"),
    ]
    rows = (
        [
            user.username,
            user.display_name,
            str(user.unit or ""),
            "、".join(str(role) for role in user.roles.all()),
            mask("phone", user.phone) if user.phone else "",
            _("Yes") if user.is_active else _("No"),
            user.last_login,
            user.date_joined,
        ]
        for user in qs.iterator(chunk_size=500)
    )
    filters = {k: v for k, v in request.GET.items() if v and k != "page"}
    record(
        "accounts.user.export",
        actor=request.user,
        category=Category.ACCESS,
        detail={"filters": filters, "rows": qs.count()},
    )
    return excel_response(f"users-{timezone.localdate():%Y%m%d}", headers, rows, title=_("Users"))


@_perm("accounts.view_user")
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(selectors.user_detail_queryset(request.user), pk=pk)
    roles = sorted(user.roles.all(), key=lambda role: role.code)
    can_change = request.user.has_perm("accounts.change_user") and (
        selectors.user_detail_queryset(request.user, "change").filter(pk=pk).exists()
    )
    context = {
        "obj": user,
        "roles": roles,
        "duties": selectors.grid_duties(request.user, user),
        "can_change": can_change,
        "phone_masked": mask("phone", user.phone) if user.phone else "",
    }
    return render(request, "accounts/user_detail.html", context)


@_perm("accounts.add_user")
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.create_user(
                actor=request.user,
                username=data["username"],
                display_name=data["display_name"],
                unit=data["unit"],
                roles=list(data["roles"]),
                password=data["password1"] or None,
                phone=data["phone"],
                email=data["email"],
            )
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc, rename={"password": "password1"})
        else:
            messages.success(request, _("The account %(user)s has been created.") % {"user": user})
            return redirect("accounts:user_detail", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form, "obj": None})


@_perm("accounts.change_user")
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(selectors.user_detail_queryset(request.user, "change"), pk=pk)
    initial = {
        "display_name": user.display_name,
        "unit": user.unit,
        "phone": user.phone,
        "email": user.email,
        "roles": list(user.roles.all()),
    }
    form = UserForm(request.POST or None, actor=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # roles the actor cannot see are kept as they are (they are not on the form)
        visible = set(form.fields["roles"].queryset)  # type: ignore[attr-defined]
        hidden_kept = [role for role in user.roles.all() if role not in visible]
        try:
            services.update_user(
                actor=request.user,
                user=user,
                display_name=data["display_name"],
                phone=data["phone"],
                email=data["email"],
                unit=data["unit"],
                roles=[*data["roles"], *hidden_kept],
            )
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("The changes to %(user)s have been saved.") % {"user": user})
            return redirect("accounts:user_detail", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form, "obj": user})


@_perm("accounts.change_user")
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(selectors.user_detail_queryset(request.user, "change"), pk=pk)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reset_password(actor=request.user, user=user, password=form.cleaned_data["password1"])
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc, rename={"password": "password1"})
        else:
            messages.success(request, _("A new password has been set for %(user)s.") % {"user": user})
            return redirect("accounts:user_detail", pk=user.pk)
    return render(request, "accounts/user_password.html", {"form": form, "obj": user})


def _user_action(action: Callable[..., Any], done: Any) -> Callable[..., HttpResponseBase]:
    @require_POST
    @_perm("accounts.change_user")
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        user = get_object_or_404(selectors.user_detail_queryset(request.user, "change"), pk=pk)
        try:
            action(actor=request.user, user=user)
        except (ValidationError, PermissionDenied) as exc:
            _refused(request, exc)
        else:
            messages.success(request, done % {"user": user})
        return redirect("accounts:user_detail", pk=user.pk)

    return view


user_deactivate = _user_action(services.deactivate_user, gettext_lazy("The account %(user)s has been deactivated."))
user_reactivate = _user_action(services.reactivate_user, gettext_lazy("The account %(user)s is active again."))
user_unlock = _user_action(services.unlock_login, gettext_lazy("The login lock of %(user)s has been lifted."))


# --- roles ---------------------------------------------------------------------------------


@_perm("accounts.view_role")
def role_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    page = Paginator(selectors.role_list(request.user, q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "q": q, "query": f"q={q}" if q else ""}
    template = "accounts/_role_table.html" if getattr(request, "htmx", False) else "accounts/role_list.html"
    return render(request, template, context)


@_perm("accounts.view_role")
def role_export(request: HttpRequest) -> HttpResponseBase:
    qs = selectors.role_list(request.user, q=request.GET.get("q", "")).prefetch_related(
        "permissions__content_type", "custom_units"
    )
    headers = [_("Code"), _("Name"), _("Data scope"), _("Units"), _("Built in"), _("People"), _("Permissions")]
    rows = (
        [
            role.code,
            str(role),
            role.get_data_scope_display(),
            "、".join(str(u) for u in role.custom_units.all()),
            _("Yes") if role.is_builtin else _("No"),
            role.user_count,  # type: ignore[attr-defined]
            "\n".join(
                perm_label(f"{p.content_type.app_label}.{p.codename}", p)
                for p in sorted(role.permissions.all(), key=lambda p: (p.content_type.app_label, p.codename))
            ),
        ]
        for role in qs
    )
    filters = {k: v for k, v in request.GET.items() if v and k != "page"}
    record(
        "accounts.role.export",
        actor=request.user,
        category=Category.ACCESS,
        detail={"filters": filters, "rows": qs.count()},
    )
    return excel_response(f"roles-{timezone.localdate():%Y%m%d}", headers, rows, title=_("Roles"))


@_perm("accounts.view_role")
def role_detail(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(selectors.role_detail_queryset(request.user), pk=pk)
    context = {
        "obj": role,
        "matrix": permission_matrix(selectors.role_permission_names(role)),
        "readonly": True,
        "holders": selectors.visible_holders(request.user, role),
        "units": list(role.custom_units.all()),
        "users_url": reverse("accounts:user_list") + f"?role={role.pk}",
    }
    return render(request, "accounts/role_detail.html", context)


def _role_form_page(request: HttpRequest, form: RoleForm, role: Role | None) -> HttpResponse:
    posted = request.POST.getlist("permissions")
    selected = set(posted if form.is_bound else form.initial.get("permissions", []))
    context = {"form": form, "obj": role, "matrix": permission_matrix(selected), "readonly": False}
    return render(request, "accounts/role_form.html", context)


@_perm("accounts.add_role")
def role_create(request: HttpRequest) -> HttpResponse:
    form = RoleForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            role = services.create_role(
                actor=request.user,
                code=data["code"],
                name=data["name"],
                description=data["description"],
                data_scope=data["data_scope"],
                permissions=data["permissions"],
                custom_units=list(data["custom_units"]),
            )
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("The role %(role)s has been created.") % {"role": role})
            return redirect("accounts:role_detail", pk=role.pk)
    return _role_form_page(request, form, None)


@_perm("accounts.change_role")
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(selectors.role_detail_queryset(request.user, "change"), pk=pk)
    initial = {
        "name": role.name,
        "description": role.description,
        "data_scope": role.data_scope,
        "custom_units": list(role.custom_units.all()),
        "permissions": sorted(selectors.role_permission_names(role)),
    }
    form = RoleForm(request.POST or None, actor=request.user, role=role, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes: dict[str, Any] = {"description": data["description"], "permissions": data["permissions"]}
        if not role.is_builtin:
            changes.update(name=data["name"], data_scope=data["data_scope"], custom_units=list(data["custom_units"]))
        try:
            services.update_role(actor=request.user, role=role, **changes)
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("The role %(role)s has been saved.") % {"role": role})
            return redirect("accounts:role_detail", pk=role.pk)
    return _role_form_page(request, form, role)


@require_POST
@_perm("accounts.delete_role")
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(selectors.role_detail_queryset(request.user, "delete"), pk=pk)
    try:
        services.delete_role(actor=request.user, role=role)
    except (ValidationError, PermissionDenied) as exc:
        _refused(request, exc)
        return redirect("accounts:role_detail", pk=role.pk)
    messages.success(request, _("The role %(role)s has been deleted.") % {"role": role})
    return redirect("accounts:role_list")
