"""A small workflow engine: a transition table as data, one function to apply it.

A ``Transition`` says: in ``state``, ``action`` leads to ``target`` (or stays,
``target=SAME``), may be taken by whoever holds ``permission`` (checked by the
caller together with the data scope), needs the inputs named in ``requires``,
and applies ``deadline`` (a rule name the domain interprets). The engine only
answers "is this allowed and where does it lead"; domains keep the side
effects in their services, and every applied transition becomes an event in
the domain's append-only log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SAME = "="


class TransitionError(Exception):
    """The action is not possible from the object's current state."""


@dataclass(frozen=True)
class Transition:
    state: str
    action: str
    target: str
    permission: str
    requires: tuple[str, ...] = ()
    deadline: str = ""
    actor: str = "staff"  # "staff", "resident" (public link) or "system"

    def resolve_target(self, current: str) -> str:
        return current if self.target == SAME else self.target


class Workflow:
    def __init__(self, name: str, transitions: Iterable[Transition], states: Iterable[str]) -> None:
        self.name = name
        self.states = tuple(states)
        self._table: dict[tuple[str, str], Transition] = {}
        for t in transitions:
            for state in (t.state, t.target):
                if state != SAME and state not in self.states:
                    raise ValueError(f"{name}: unknown state {state!r} in {t}")
            key = (t.state, t.action)
            if key in self._table:
                raise ValueError(f"{name}: duplicate transition {key}")
            self._table[key] = t

    @property
    def transitions(self) -> list[Transition]:
        return list(self._table.values())

    def get(self, state: str, action: str) -> Transition:
        try:
            return self._table[(state, action)]
        except KeyError:
            raise TransitionError(f"{self.name}: {action!r} is not possible in state {state!r}") from None

    def actions_from(self, state: str, *, actor: str = "staff") -> list[Transition]:
        return [t for (s, _a), t in self._table.items() if s == state and t.actor == actor]

    def permitted(self, state: str, perms: set[str], *, actor: str = "staff") -> list[Transition]:
        return [t for t in self.actions_from(state, actor=actor) if t.permission in perms]
