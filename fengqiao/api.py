"""The typed JSON API, version 1 (``/api/v1/``): one NinjaAPI, each domain's router in its ``api.py``.

Authentication: the browser's session (CSRF checked on unsafe methods), or a
personal API token (``Authorization: Bearer fq_…``, created on "My account";
``fengqiao.accounts.token_services``). The caller acts as that user: same
permissions, same data scope (``restrict(user, action)``): out of scope = 404,
a missing permission = 403.

Every error has one shape, ``ErrorOut`` — ``{"code", "message", "fields"}`` —
with the messages in the caller's language (``Accept-Language`` or the
language chosen in the web UI), validation problems keyed by field.

The OpenAPI document is at ``/api/v1/openapi.json`` and the interactive docs at
``/api/v1/docs`` (Swagger UI from ninja's own static files, no CDN).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from fengqiao.accounts.token_services import authenticate_token
from fengqiao.cases.services import ConcurrentUpdate

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ErrorOut(Schema):
    """Every error: a stable ``code``, a ``message`` in the caller's language, and the problems
    per field (``__all__`` for the request as a whole)."""

    code: str
    message: str
    fields: dict[str, list[str]] = {}


#: the error responses every authenticated operation may give
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class CsrfFailed(Exception):
    pass


class SessionAuth(APIKeyCookie):
    """The browser's Django session; CSRF is checked on unsafe methods. Not used when the request
    carries an ``Authorization`` header (an app with a token)."""

    from django.conf import settings as _settings

    param_name: str = _settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        if "authorization" in request.headers:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method in UNSAFE and check_csrf(request) is not None:
            raise CsrfFailed
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover - __call__ decides
        return None


class TokenAuth(HttpBearer):
    """A personal API token; the request then acts as the token's user."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(token)
        if user is None:
            return None
        request.user = user
        return user


api = NinjaAPI(
    title="Fengqiao API",
    version="1",
    description=(
        "The typed JSON API of Fengqiao for the staff and grid-worker apps and for other government "
        "platforms. Sign in with the browser session or send a personal API token "
        "(created on *My account → API tokens*) as `Authorization: Bearer fq_…`. "
        "Errors: `{code, message, fields}`, messages in the language of `Accept-Language`."
    ),
    urls_namespace="api-v1",
    auth=[SessionAuth(), TokenAuth()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "fields": fields or {}}, status=status)


def validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {("__all__" if key == "__all__" else key): list(msgs) for key, msgs in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


@api.exception_handler(DjangoValidationError)
def _django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    fields = validation_fields(exc)
    first = next(iter(fields.values()), [""])
    return error_response(request, 422, "invalid", first[0] if first else _("The input is not valid."), fields)


_PYDANTIC_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "json_invalid": gettext_lazy("The request body is not valid JSON."),
}


@api.exception_handler(NinjaValidationError)
def _request_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "form", "payload")]
        # ninja nests a schema's fields under the parameter name: keep the last meaningful part
        key = loc[-1] if loc else "__all__"
        if len(loc) >= 2 and loc[-1].isdigit():
            key = loc[-2]
        text = _PYDANTIC_MESSAGES.get(str(error.get("type", "")))
        fields.setdefault(key, []).append(str(text) if text else _("This value is not valid."))
    return error_response(request, 422, "invalid", _("Some of the input is not valid."), fields)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, 401, "unauthenticated", _("Sign in, or send a valid API token (Authorization: Bearer …).")
    )


@api.exception_handler(CsrfFailed)
def _csrf(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
    return error_response(
        request, 403, "csrf_failed", _("The CSRF check failed: send the X-CSRFToken header with the session cookie.")
    )


@api.exception_handler(PermissionDenied)
@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    text = str(exc) if isinstance(exc, PermissionDenied) and str(exc) else _("You may not do this.")
    return error_response(request, 403, "forbidden", text)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found (or not in your scope)."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # ninja: a body that cannot be parsed
        return error_response(request, 400, "bad_request", _("The request body cannot be read: send valid JSON."))
    return error_response(request, exc.status_code, "error", str(exc))


@api.exception_handler(ConcurrentUpdate)
def _conflict(request: HttpRequest, exc: ConcurrentUpdate) -> HttpResponse:
    return error_response(
        request,
        409,
        "conflict",
        str(exc) or _("Someone else changed this case a moment ago. Reload it and try again."),
    )


def _mount() -> None:
    from fengqiao.cases.api import figures_router, router

    api.add_router("/cases", router)
    api.add_router("/figures", figures_router)


_mount()
