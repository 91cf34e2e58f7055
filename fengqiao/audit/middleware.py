from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import audit_context


def client_ip(request: HttpRequest) -> str:
    # Behind a reverse proxy, configure it to set REMOTE_ADDR (e.g. gunicorn
    # --forwarded-allow-ips); never trust X-Forwarded-For blindly.
    return request.META.get("REMOTE_ADDR", "")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = "api" if request.path.startswith("/api/") else "web"
        with audit_context(
            ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300], source=source
        ) as ctx:
            request.audit_request_id = ctx.request_id  # type: ignore[attr-defined]
            return self.get_response(request)
