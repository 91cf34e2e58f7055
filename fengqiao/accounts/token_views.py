"""My account → API tokens: create (the token is shown once), list, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import token_services
from .models import ApiToken, User
from .views import _apply_errors, _refused


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What uses it, e.g. “grid app on my phone”."),
        error_messages={"required": gettext_lazy("Give the token a name, e.g. the app or device that will use it.")},
    )
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=token_services.MAX_DAYS,
        initial=token_services.DEFAULT_DAYS,
        error_messages={"required": gettext_lazy("Give the number of days the token is valid.")},
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    created: str | None = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, created = token_services.create_token(
                actor=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except (ValidationError, PermissionDenied) as exc:
            _apply_errors(form, exc)
        else:
            form = TokenForm()
    now = timezone.now()
    user: User = request.user  # type: ignore[assignment]  # login_required
    tokens = list(ApiToken.objects.filter(user=user).order_by("-created_at", "-id")[:100])
    rows = [
        {
            "token": t,
            "state": (
                _("Revoked") if t.revoked_at is not None else _("Expired") if t.expires_at <= now else _("Active")
            ),
            "active": t.revoked_at is None and t.expires_at > now,
        }
        for t in tokens
    ]
    return render(request, "accounts/api_tokens.html", {"form": form, "rows": rows, "created": created})


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = token_services.revoke_token(actor=request.user, token_id=pk)
    except (ValidationError, PermissionDenied) as exc:
        _refused(request, exc)
    else:
        messages.success(
            request, _("Token “%(name)s” revoked: apps using it can no longer sign in.") % {"name": token.name}
        )
    return redirect("accounts:api_tokens")
