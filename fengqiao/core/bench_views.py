"""Reference endpoints for benchmarks only, mounted when FENGQIAO_BENCH_ENDPOINTS is set.

``bare_write`` is the baseline the intake benchmark compares against: a plain
Django view that writes one row and answers, with nothing of Fengqiao's own
(no form, no validation, no audit).
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def bare_write(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_bare (body, created_at) VALUES (%s, CURRENT_TIMESTAMP)",
            [request.POST.get("description", "")[:4000]],
        )
    return HttpResponse("ok")
