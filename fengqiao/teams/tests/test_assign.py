"""Cases go to teams through the case workflow: a centre assigns a dispute to a mediation team,
the team member with an account handles it, and the team's dispute resolution rate counts it."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from fengqiao.cases import services as case_services
from fengqiao.cases.models import Case, CaseState, Category, Channel
from fengqiao.teams import selectors
from fengqiao.teams.demo import required_extra
from fengqiao.teams.models import TEAM_KINDS


def _dispute(centre, team, text="邻居装修噪音纠纷"):
    category = Category.objects.get(code="neighbour")
    return case_services.submit_case(
        category=category,
        extra=required_extra(category),
        description=text,
        channel=Channel.WALK_IN,
        actor=centre,
        community=team.region,
    )


def test_centre_assigns_to_mediation_team_and_member_handles(tdst, users):
    centre, mediator = users["street_centre_1"], users["mediator_1"]
    case = _dispute(centre, tdst)
    case = case_services.apply_action(case, "assign", actor=centre, target_unit=tdst)
    assert case.state == CaseState.ASSIGNED and case.unit == tdst
    # the team member's account (unit = the team) sees it and handles it
    assert Case.objects.restrict(mediator, "view").filter(pk=case.pk).exists()
    case = case_services.apply_action(case, "accept", actor=mediator)
    assert case.assignee == mediator
    case = case_services.apply_action(case, "feedback", actor=mediator, note="经调解双方达成协议")
    case = case_services.apply_action(case, "pass_review", actor=centre)
    assert case.state == CaseState.CLOSED and case.resolution_outcome == "resolved"

    today = timezone.localdate()
    rows = selectors.dispute_rates(centre, "team", today - datetime.timedelta(days=1), today)
    row = next(r for r in rows if r.key == tdst.pk)
    assert (row.disputes_closed, row.disputes_resolved, row.rate) == (1, 1, 1.0)
    street = next(iter(selectors.dispute_rates(centre, "street", today, today)))
    assert street.key == tdst.region_path[:9] and street.disputes_closed == 1
    # another street's centre sees nothing of it
    assert selectors.dispute_rates(users["street_centre_2"], "team", today, today) == []


def test_assign_to_team_member_account_directly(tdst, users):
    centre, mediator = users["street_centre_1"], users["mediator_1"]
    case = _dispute(centre, tdst)
    case = case_services.apply_action(case, "assign", actor=centre, target_unit=tdst, target_user=mediator)
    assert case.assignee == mediator
    case_services.apply_action(case, "accept", actor=mediator)


def test_member_of_another_unit_cannot_handle_a_team_case(tdst, users):
    centre = users["street_centre_1"]
    case = case_services.apply_action(_dispute(centre, tdst), "assign", actor=centre, target_unit=tdst)
    with pytest.raises(PermissionDenied):
        case_services.apply_action(case, "accept", actor=users["dept_housing"])


def test_rejected_or_unresolved_disputes_lower_the_rate(tdst, users):
    centre, mediator = users["street_centre_1"], users["mediator_1"]
    for text in ("纠纷一", "纠纷二"):
        case = case_services.apply_action(_dispute(centre, tdst, text), "assign", actor=centre, target_unit=tdst)
        case_services.apply_action(case, "accept", actor=mediator)
    open_case = Case.objects.filter(unit=tdst).order_by("id")[0]
    case_services.apply_action(open_case, "feedback", actor=mediator, note="已调解")
    case_services.apply_action(open_case, "pass_review", actor=centre)
    today = timezone.localdate()
    row = next(r for r in selectors.dispute_rates(centre, "team", today, today) if r.key == tdst.pk)
    # one closed and resolved, one still open: the open one is not in the rate (same rule as the figures)
    assert (row.cases, row.disputes_closed, row.disputes_resolved) == (2, 1, 1)
    assert tdst.kind in TEAM_KINDS
