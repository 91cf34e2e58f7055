"""The case workflow as data: (state, action) → target, who may, what it needs, which deadline rule.

Permissions are the ``cases.*_case`` permissions; the data scope is checked
separately (the case must be in ``Case.objects.restrict(user, "change")``).
Deadline rules are interpreted by ``fengqiao.cases.deadlines``.
"""

from __future__ import annotations

from fengqiao.core.workflow import SAME, Transition, Workflow

from .models import OPEN_STATES, CaseState

S = CaseState
TRIAGE = "cases.triage_case"
APPROVE = "cases.approve_escalation_case"
DISPATCH = "cases.dispatch_case"
HANDLE = "cases.handle_case"
REVIEW = "cases.review_case"
SUPERVISE = "cases.supervise_case"
EXTEND = "cases.approve_extension_case"
RESIDENT = "resident"  # the holder of the case's private link


def _each_open(action: str, permission: str, **kw: object) -> list[Transition]:
    return [Transition(state, action, SAME, permission, **kw) for state in OPEN_STATES]  # type: ignore[arg-type]


TRANSITIONS: list[Transition] = [
    # 研判审核 — triage at the street centre
    Transition(S.SUBMITTED, "handle_here", S.IN_PROGRESS, TRIAGE, deadline="triage"),
    Transition(S.SUBMITTED, "assign", S.ASSIGNED, TRIAGE, requires=("target",), deadline="triage"),
    Transition(S.SUBMITTED, "escalate", S.ESCALATION_PENDING, TRIAGE, requires=("reason",), deadline="first_response"),
    Transition(S.SUBMITTED, "reject", S.REJECTED, TRIAGE, requires=("reason", "guidance"), deadline="stop"),
    Transition(S.SUBMITTED, "merge", S.MERGED, TRIAGE, requires=("into",), deadline="stop"),
    # escalation needs the street's principal leader
    Transition(S.ESCALATION_PENDING, "approve_escalation", S.DISTRICT_TRIAGE, APPROVE),
    Transition(S.ESCALATION_PENDING, "deny_escalation", S.SUBMITTED, APPROVE, requires=("reason",)),
    # the district centre dispatches to a district department
    Transition(S.DISTRICT_TRIAGE, "dispatch", S.ASSIGNED, DISPATCH, requires=("target",), deadline="triage"),
    Transition(S.DISTRICT_TRIAGE, "handle_here", S.IN_PROGRESS, DISPATCH, deadline="triage"),
    Transition(S.DISTRICT_TRIAGE, "reject", S.REJECTED, DISPATCH, requires=("reason", "guidance"), deadline="stop"),
    Transition(S.DISTRICT_TRIAGE, "return", S.SUBMITTED, DISPATCH, requires=("reason",)),
    Transition(S.DISTRICT_TRIAGE, "merge", S.MERGED, DISPATCH, requires=("into",), deadline="stop"),
    # 流转（派遣）— the receiving unit or worker accepts or returns it
    Transition(S.ASSIGNED, "accept", S.IN_PROGRESS, HANDLE),
    Transition(S.ASSIGNED, "return", S.SUBMITTED, HANDLE, requires=("reason",)),
    Transition(S.ASSIGNED, "reassign", S.ASSIGNED, TRIAGE, requires=("target",)),
    # 处置（整治）— on-site findings (排查上报), feedback with photos
    Transition(S.IN_PROGRESS, "report_findings", SAME, HANDLE, requires=("note",)),
    Transition(S.IN_PROGRESS, "feedback", S.REVIEW, HANDLE, requires=("note",), deadline="resolved"),
    Transition(S.IN_PROGRESS, "return", S.SUBMITTED, HANDLE, requires=("reason",)),
    Transition(S.IN_PROGRESS, "reassign", S.ASSIGNED, TRIAGE, requires=("target",)),
    Transition(S.IN_PROGRESS, "request_extension", SAME, HANDLE, requires=("days", "reason")),
    Transition(S.IN_PROGRESS, "approve_extension", SAME, EXTEND, deadline="extend"),
    Transition(S.IN_PROGRESS, "deny_extension", SAME, EXTEND, requires=("reason",)),
    Transition(S.IN_PROGRESS, "suspend", SAME, HANDLE, requires=("reason",), deadline="suspend"),
    Transition(S.IN_PROGRESS, "resume", SAME, HANDLE, deadline="resume"),
    # 复查 — review: pass and close, or send back for rework
    Transition(S.REVIEW, "pass_review", S.CLOSED, REVIEW, deadline="close"),
    Transition(S.REVIEW, "rework", S.IN_PROGRESS, REVIEW, requires=("reason",), deadline="reopen_work"),
    # the resident: rate, reopen when dissatisfied, add information
    Transition(S.CLOSED, "rate", SAME, RESIDENT, requires=("rating",), actor="resident"),
    Transition(S.CLOSED, "reopen", S.SUBMITTED, RESIDENT, requires=("reason",), deadline="reopen", actor="resident"),
    *[
        Transition(state, "add_info", SAME, RESIDENT, requires=("note",), actor="resident")
        for state in (*OPEN_STATES, S.CLOSED)
    ],
    # across open states
    *_each_open("supervise", SUPERVISE, requires=("note",)),
    *_each_open("comment", HANDLE, requires=("note",)),
    *[
        Transition(state, "set_complexity", SAME, TRIAGE, requires=("complexity",), deadline="complexity")
        for state in (S.SUBMITTED, S.DISTRICT_TRIAGE, S.ASSIGNED, S.IN_PROGRESS)
    ],
]

CASE_WORKFLOW = Workflow("case", TRANSITIONS, states=[s.value for s in CaseState])
