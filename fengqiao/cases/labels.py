"""Readable names of the case actions (timeline, audit log, action buttons)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .workflow import CASE_WORKFLOW

#: the workflow's actions, as the buttons and the timeline name them
WORKFLOW_ACTION_LABELS: dict[str, str | Promise] = {
    "submit": _("Submitted"),
    "handle_here": _("Handle at this level"),
    "assign": _("Assign"),
    "escalate": _("Escalate to the district"),
    "reject": _("Do not accept"),
    "merge": _("Merge into another case"),
    "merged_in": _("Another case merged into this one"),
    "approve_escalation": _("Approve the escalation"),
    "deny_escalation": _("Refuse the escalation"),
    "dispatch": _("Dispatch to a department"),
    "return": _("Return to sender"),
    "accept": _("Accept the task"),
    "reassign": _("Reassign"),
    "report_findings": _("Report on-site findings"),
    "feedback": _("Report the result"),
    "request_extension": _("Request an extension"),
    "approve_extension": _("Approve the extension"),
    "deny_extension": _("Refuse the extension"),
    "suspend": _("Suspend (stop the clock)"),
    "resume": _("Resume"),
    "pass_review": _("Pass the review and close"),
    "rework": _("Send back for rework"),
    "rate": _("Rated the outcome"),
    "reopen": _("Reopened"),
    "add_info": _("Added information"),
    "supervise": _("Supervise (督办)"),
    "comment": _("Internal note"),
    "set_complexity": _("Set the complexity"),
    "category_complexity": _("Complexity changed with the category"),
    "overdue_escalate": _("Escalated as overdue"),
    "remind": _("Deadline reminder"),
}

ACTION_LABELS: dict[str, str | Promise] = {
    "cases.submit": _("Submitted a case"),
    "cases.export": _("Exported cases"),
    "cases.import": _("Imported cases from Excel"),
    "cases.alert.acknowledge": _("Acknowledged a duty alert"),
    "cases.category.create": _("Created a case category"),
    "cases.category.update": _("Changed a case category"),
    "cases.category.delete": _("Deleted a case category"),
    "cases.category.export": _("Exported case categories"),
    "cases.figures.export": _("Exported case figures"),
    "cases.sweep": _("Swept case deadlines"),
    "cases.escalate_overdue": _("Escalated an overdue case"),
    **{f"cases.{t.action}": WORKFLOW_ACTION_LABELS.get(t.action, t.action) for t in CASE_WORKFLOW.transitions},
    **{
        f"cases.resident.{t.action}": WORKFLOW_ACTION_LABELS.get(t.action, t.action)
        for t in CASE_WORKFLOW.transitions
        if t.actor == "resident"
    },
}


def action_label(action: str) -> str:
    return str(WORKFLOW_ACTION_LABELS.get(action, action))
