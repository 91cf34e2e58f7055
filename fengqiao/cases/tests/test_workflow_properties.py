"""Hypothesis state machine over the case workflow: whatever staff and residents try,
in whatever order, the case stays consistent and failed actions change nothing."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from fengqiao.cases import services
from fengqiao.cases.models import FINAL_STATES, OPEN_STATES, Case, CaseState, Category
from fengqiao.cases.workflow import CASE_WORKFLOW
from fengqiao.regions.models import Level, Region

ACTIONS = sorted({t.action for t in CASE_WORKFLOW.transitions if t.actor == "staff"})
RESIDENT_ACTIONS = ["rate", "reopen", "add_info"]


def test_transition_table_is_consistent():
    states = {s.value for s in CaseState}
    for t in CASE_WORKFLOW.transitions:
        assert t.state in states
        assert t.target in states | {"="}
        assert t.state not in FINAL_STATES or t.actor == "resident"
    # every open state has a way forward, every final state is final for staff
    for state in OPEN_STATES:
        assert CASE_WORKFLOW.actions_from(state), state


@pytest.mark.django_db
def test_any_sequence_of_actions_keeps_the_case_consistent(users, category):
    street = users["street_centre_1"]
    actors = [street, users["street_leader_1"], users["district_centre"], users["grid_worker_1"], users["dept_housing"]]
    found = Region.objects.filter(level=Level.GRID, path__under=street.unit.region.path).order_by("path").first()
    assert found is not None
    grid: Region = found
    housing = users["dept_housing"].unit
    petition = Category.objects.get(code="petition")

    class CaseMachine(RuleBasedStateMachine):
        @initialize(kind=st.sampled_from(["report", "petition"]))
        def submit(self, kind):
            self.case = services.submit_case(
                category=petition if kind == "petition" else category,
                description="楼道堆放杂物",
                channel="qr",
                community=grid.parent,
                lng=grid.centroid_lng,
                lat=grid.centroid_lat,
            )
            self.applied = 0

        @rule(action=st.sampled_from(ACTIONS), who=st.integers(0, len(actors) - 1), stale=st.booleans())
        def staff_action(self, action, who, stale):
            before = Case.objects.get(pk=self.case.pk)
            events_before = before.events.count()
            kwargs: dict[str, Any] = {
                "note": "处理说明",
                "reason": "原因",
                "guidance": "请到区法院咨询",
                "complexity": "general",
                "days": 3,
            }
            if action in ("assign", "reassign"):
                workers = services.grid_workers(before)
                kwargs["target_user"] = workers[0] if workers else None
            if action == "dispatch":
                kwargs["target_unit"] = housing
            version = before.version - 1 if stale else before.version
            try:
                services.apply_action(before.pk, action, actor=actors[who], expected_version=version, **kwargs)
            except (PermissionDenied, ValidationError, services.ConcurrentUpdate):
                after = Case.objects.get(pk=self.case.pk)
                assert after.version == before.version
                assert after.state == before.state
                assert after.events.count() == events_before
                return
            assert not stale, "a stale version must never be applied"
            after = Case.objects.get(pk=self.case.pk)
            assert after.version == before.version + 1
            assert after.events.count() == events_before + 1
            self.applied += 1

        @rule(action=st.sampled_from(RESIDENT_ACTIONS), rating=st.integers(1, 5))
        def resident(self, action, rating):
            before = Case.objects.get(pk=self.case.pk)
            try:
                services.resident_action(before.public_token, action, note="补充", reason="不满意", rating=rating)
            except (PermissionDenied, ValidationError):
                after = Case.objects.get(pk=self.case.pk)
                assert (after.version, after.state) == (before.version, before.state)

        @invariant()
        def consistent(self):
            case = Case.objects.get(pk=self.case.pk)
            assert case.state in {s.value for s in CaseState}
            if case.state in OPEN_STATES:
                assert case.closed_at is None
            else:
                assert case.closed_at is not None
            if case.state == CaseState.MERGED:
                assert case.merged_into_id is not None
            if case.state == CaseState.REJECTED:
                assert case.rejection_reason and case.rejection_guidance
            assert case.resolution_due is not None and case.first_response_due is not None
            assert case.events.filter(action="submit").count() == 1

    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
