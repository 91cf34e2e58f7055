"""Who and where a write comes from, carried through a request (or a command)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class AuditContext:
    ip: str = ""
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    source: str = "system"  # "web", "api", "command", "task", "system"
    #: who the events are by when there is no acting user (a command, the demo loader)
    actor_name: str = ""


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("fengqiao_audit_context", default=None)


def current() -> AuditContext:
    ctx = _current.get()
    return ctx if ctx is not None else AuditContext()


@contextmanager
def audit_context(**kwargs: str) -> Iterator[AuditContext]:
    ctx = AuditContext(**kwargs)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
