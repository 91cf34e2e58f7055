"""Plain words for residents: where their case is and what happened, without staff jargon or names."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from fengqiao.cases.models import CaseState

#: the state of a case as the resident reads it, and a badge class (ok / warn / bad / "")
STATE_WORDS: dict[str, tuple[Promise, str]] = {
    CaseState.SUBMITTED: (_("Received — the street centre is reviewing it"), "warn"),
    CaseState.ESCALATION_PENDING: (_("Being reviewed by the centre"), "warn"),
    CaseState.DISTRICT_TRIAGE: (_("Passed to the district centre"), "warn"),
    CaseState.ASSIGNED: (_("Passed to the responsible unit"), "warn"),
    CaseState.IN_PROGRESS: (_("Being handled"), "warn"),
    CaseState.REVIEW: (_("Handled — the result is being checked"), "warn"),
    CaseState.CLOSED: (_("Completed"), "ok"),
    CaseState.REJECTED: (_("Not accepted"), "bad"),
    CaseState.MERGED: (_("Handled together with an earlier report of the same problem"), "ok"),
}

#: what a public timeline event means for the resident
ACTION_WORDS: dict[str, Promise] = {
    "submit": _("Report received"),
    "handle_here": _("Accepted; the centre is handling it"),
    "assign": _("Passed to the responsible unit"),
    "dispatch": _("Passed to the responsible department"),
    "reassign": _("Passed to another unit"),
    "escalate": _("Referred to the district centre"),
    "approve_escalation": _("Taken over by the district centre"),
    "deny_escalation": _("Kept at the street centre"),
    "return": _("Being reassigned"),
    "accept": _("The responsible unit has taken it on"),
    "report_findings": _("Checked on site"),
    "feedback": _("Handling done; the result is being checked"),
    "request_extension": _("More time requested"),
    "approve_extension": _("Time limit extended"),
    "deny_extension": _("Time limit unchanged"),
    "suspend": _("Handling paused"),
    "resume": _("Handling resumed"),
    "pass_review": _("Checked and completed"),
    "rework": _("Sent back for further handling"),
    "reject": _("Not accepted"),
    "merge": _("Handled together with an earlier report of the same problem"),
    "rate": _("You rated the handling"),
    "reopen": _("Reopened at your request"),
    "add_info": _("You added information"),
    "supervise": _("A higher centre is supervising the handling"),
    "comment": _("Message from the handling unit"),
    "set_complexity": _("Time limit set"),
}

#: actions the resident takes through the private link (and the report itself)
RESIDENT_ACTIONS = frozenset({"submit", "rate", "reopen", "add_info"})

#: actions whose note is written for the resident and is shown on the private link.
#: Notes of routing actions (assign, dispatch, merge…) are instructions between staff
#: and may name people: they are never shown, even when the event is public.
#: (A rejection's reason and guidance are shown in their own box, from the case.)
NOTE_ACTIONS = frozenset(
    {"feedback", "pass_review", "comment", "supervise", "report_findings", "rate", "reopen", "add_info"}
)


def state_words(state: str) -> tuple[Promise, str]:
    return STATE_WORDS.get(state, (_("In progress"), ""))


def action_words(action: str) -> Promise:
    return ACTION_WORDS.get(action, _("Update"))
