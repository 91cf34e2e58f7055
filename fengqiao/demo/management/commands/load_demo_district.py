"""``manage.py load_demo_district``: the fictional demo district 枫桥示范区 (code 440399).

Deterministic (the same ``--seed`` gives the same district), idempotent (a
second run adds nothing) and quick. ``--reset`` removes the demo district and
everything under it first. All demo logins share the password printed at the
end; it is for the demo only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fengqiao.demo import loader
from fengqiao.demo.generator import DEFAULT_RESIDENTS_PER_GRID, DEFAULT_SEED, DEMO_PASSWORD, DISTRICT, build_plan


def load_cases(count: int, seed: int) -> int:
    """The working-day calendar, the default categories and ``count`` sample cases."""
    from fengqiao.audit.context import audit_context
    from fengqiao.cases.categories import ensure_default_categories
    from fengqiao.cases.demo import load_demo_cases
    from fengqiao.demo.loader import DEMO_ACTOR_NAME
    from fengqiao.workdays.services import seed_from_chinese_calendar

    with audit_context(source="command", actor_name=str(DEMO_ACTOR_NAME)):
        seed_from_chinese_calendar()
        ensure_default_categories()
        if count == 0:
            return 0
        return load_demo_cases(count=count, seed=seed).created


class Command(BaseCommand):
    help = "Load the fictional demo district 枫桥示范区 (regions, units, staff, grids, households, residents)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
        parser.add_argument(
            "--residents-per-grid",
            type=int,
            default=DEFAULT_RESIDENTS_PER_GRID,
            help="residents in each of the 100 grids (default %(default)s)",
        )
        parser.add_argument("--reset", action="store_true", help="remove the demo district and its data first")
        parser.add_argument(
            "--cases", type=int, default=120, help="sample cases of the last months (default %(default)s; 0 for none)"
        )
        parser.add_argument(
            "--no-extras",
            dest="extras",
            action="store_false",
            help="only the district, its staff and residents: no places, teams, visits or webhook subscriber",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        per_grid = options["residents_per_grid"]
        if per_grid < 0:
            raise CommandError(_("--residents-per-grid must be 0 or more."))
        verbose = options["verbosity"] >= 2
        if options["cases"] < 0:
            raise CommandError(_("--cases must be 0 or more."))
        plan = build_plan(seed=options["seed"], residents_per_grid=per_grid)
        extras = options.get("extras", True)
        result = loader.load(
            plan, reset=options["reset"], log=self.stdout.write if verbose else loader.quiet, extras=extras
        )
        cases = load_cases(options["cases"], options["seed"])
        if extras:
            self.load_extras(options)
        if options["verbosity"] == 0:
            return
        created = result.created
        if any(created.values()):
            self.stdout.write(
                _(
                    "Demo district %(name)s (%(code)s) loaded in %(seconds).1f s: %(regions)s regions, "
                    "%(units)s units, %(users)s staff, %(assignments)s grid responsibilities, "
                    "%(households)s households, %(residents)s residents added."
                )
                % {
                    "name": DISTRICT[1],
                    "code": DISTRICT[0],
                    "seconds": result.seconds,
                    "regions": created.get("regions", 0),
                    "units": created.get("units", 0),
                    "users": created.get("users", 0),
                    "assignments": created.get("grid_assignments", 0),
                    "households": created.get("households", 0),
                    "residents": created.get("residents", 0),
                }
            )
        else:
            self.stdout.write(
                _(
                    "Demo district %(name)s (%(code)s) is already loaded; nothing added (%(seconds).1f s). "
                    "Use --reset to load it again with another seed or size."
                )
                % {"name": DISTRICT[1], "code": DISTRICT[0], "seconds": result.seconds}
            )
        if cases:
            self.stdout.write(_("%(n)d sample cases added.") % {"n": cases})
        self.print_logins(plan)

    def load_extras(self, options: dict[str, Any]) -> None:
        from fengqiao.grid.demo import load_demo_visits
        from fengqiao.teams.demo import load_demo_teams
        from fengqiao.webhooks.demo import load_demo_subscription

        load_demo_teams(seed=options["seed"], cases=min(options["cases"], 12))  # members, patrols, team disputes
        load_demo_visits(options["seed"])  # visits and household tiers in a few grids
        load_demo_subscription()  # an example webhook subscriber, paused

    def print_logins(self, plan: Any) -> None:
        rows = [(_("Username"), _("Role"), _("Unit")), *loader.login_rows(plan)]
        widths = [max(_display_width(row[i]) for row in rows) for i in range(3)]
        self.stdout.write("")
        self.stdout.write(_("Demo logins (password for all: %(password)s, demo only):") % {"password": DEMO_PASSWORD})
        for n, row in enumerate(rows):
            cells = [cell + " " * (widths[i] - _display_width(cell)) for i, cell in enumerate(row)]
            self.stdout.write("  " + "  ".join(cells).rstrip())
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))
        more = ", ".join(f"{stem}1…{stem}{count}" for stem, count in loader.series(plan))
        self.stdout.write(_("More logins with the same password: %(series)s.") % {"series": more})


def _display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
