"""Texts of the notifications the platform sends by itself (the deadline sweeper).

Kept here, with their Chinese translation in this app's catalogue; callers
translate them when they send (``gettext(texts.X) % {...}``), in the active
language (the worker's: ``settings.LANGUAGE_CODE``).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

SWEEPER = gettext_noop("System (deadline sweeper)")

RESPONSE_OVERDUE = gettext_noop("Case %(number)s: the first response is overdue")
RESPONSE_OVERDUE_BODY = gettext_noop("The first response was due at %(due)s.")
RESPONSE_REMIND = gettext_noop("Case %(number)s: %(percent)d%% of the time for the first response is used")
RESPONSE_REMIND_BODY = gettext_noop("The first response is due at %(due)s.")
RESOLUTION_REMIND = gettext_noop("Case %(number)s: %(percent)d%% of the handling time is used")
RESOLUTION_REMIND_BODY = gettext_noop("The case must be resolved by %(due)s.")
OVERDUE_BODY = gettext_noop("The case was due at %(due)s and is not resolved.")
OVERDUE_ESCALATED = gettext_noop("Case %(number)s is overdue: escalated to your centre for supervision")
OVERDUE = gettext_noop("Case %(number)s is overdue")
