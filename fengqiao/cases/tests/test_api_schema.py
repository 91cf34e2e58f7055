"""Schema-driven tests of the JSON API: schemathesis generates requests for every operation of
``/api/v1/openapi.json`` and sends them in-process to the WSGI application, as a staff user with
a token and cases in several states. Checks: no 5xx, the status code, content type and body of
every response are the documented ones. Examples per operation are capped (``MAX_EXAMPLES``)
so the whole run stays within seconds."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fengqiao.cases import services

from .api_support import grid_of, photo, submit, token_for

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    # the test runs in one transaction: the handler must not close the connection between requests
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(users, category):
    street = users["street_centre_1"]
    grid = grid_of(street)
    fresh = submit(category, grid, reporter_phone="13800138000", files=[photo()])
    worker = next(u for u in services.grid_workers(fresh) if not u.has_perm("cases.triage_case"))
    assigned = submit(category, grid)
    services.apply_action(assigned, "assign", actor=street, target_user=worker)
    handled = submit(category, grid)
    services.apply_action(handled, "handle_here", actor=street)
    services.apply_action(handled, "feedback", actor=street, note="已处理", files=[photo()])
    return {"user": street, "cases": [fresh, assigned, handled], "attachment": fresh.attachments.get()}


def test_every_operation_conforms_to_the_schema(wsgi_app, world):
    token = token_for(world["user"])
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-hans"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    case_ids = [c.pk for c in world["cases"]]
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 8
    calls: dict[str, list[int]] = {}

    def conforms(strategy, label, headers, statuses=None):
        """Run the checks on up to MAX_EXAMPLES generated requests of one operation."""

        @settings(
            max_examples=MAX_EXAMPLES if statuses is None else 3,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case):
            response = case.call_and_validate(checks=CHECKS, headers=headers)
            calls.setdefault(label, []).append(response.status_code)
            if statuses is not None:
                assert response.status_code in statuses, (case.path, response.status_code)

        run()

    for operation in operations:
        fixed: list[dict[str, int]] = [{}]
        if "attachment_id" in operation.path:
            fixed.append({"case_id": world["attachment"].case_id, "attachment_id": world["attachment"].pk})
        elif "case_id" in operation.path:
            fixed += [{"case_id": pk} for pk in case_ids]  # real cases, not only random ids (404)
        for path_parameters in fixed:
            strategy = operation.as_strategy(headers=headers, path_parameters=path_parameters or None)
            conforms(strategy, operation.label, headers)
    # the data was reached: real cases were read and acted on, not only refused
    assert 200 in calls["GET /api/v1/cases/{case_id}"]
    assert 200 in calls["GET /api/v1/cases"]
    assert 200 in calls["GET /api/v1/cases/{case_id}/attachments/{attachment_id}"]
    assert any(code in (409, 422) for code in calls["POST /api/v1/cases/{case_id}/actions/{action}"])

    # without credentials: every operation answers 401 (or 4xx for a malformed request), as documented
    for operation in operations:
        conforms(operation.as_strategy(), "anonymous " + operation.label, None, statuses=(400, 401, 422))
