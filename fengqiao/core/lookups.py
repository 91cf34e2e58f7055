"""``path__under="440305001"``: "this region path and everything below it".

Region paths are digit-only strings, so the prefix set of ``P`` is exactly
the range ``[P, succ(P))`` where ``succ`` adds one to ``P`` read as a number
of the same width ("4403050019" → "4403050020"). A range is served by a
plain B-tree index on SQLite and on PostgreSQL under any collation, and the
same index then also gives the ORDER BY for the first page, which a
``LIKE 'P%'`` (pattern-ops index) cannot.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Lookup


def successor(path: str) -> str | None:
    """The smallest digit string of the same length greater than every string with prefix ``path``."""
    if not path.isdigit():
        raise ValueError(f"Region paths are digits only, got {path!r}")
    digits = list(path)
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != "9":
            digits[i] = str(int(digits[i]) + 1)
            return "".join(digits[: i + 1])
    return None  # all nines: no upper bound


@CharField.register_lookup
class Under(Lookup):
    lookup_name = "under"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        path = str(self.rhs)
        upper = successor(path) if path else None
        if not path:
            return "1=1", []
        if upper is None:
            return f"{lhs} >= %s", [*lhs_params, path]
        return f"({lhs} >= %s AND {lhs} < %s)", [*lhs_params, path, *lhs_params, upper]
