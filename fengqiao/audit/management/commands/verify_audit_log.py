"""``manage.py verify_audit_log``: recompute the whole audit chain.

Exits with status 1 when anything was edited, inserted or deleted. Write the
printed head hash down outside this database (a logbook, a letter to the
supervising office) and pass it to ``--anchor`` later: that also detects the
removal of the newest blocks, which the chain alone cannot.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fengqiao.audit.sealing import seal_all, verify_chain


class Command(BaseCommand):
    help = "Verify the tamper-evident audit chain (every block and every sealed row)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seal-first", action="store_true", help="Seal pending events before verifying.")
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="HASH",
            help="A head hash printed earlier; fail if it is no longer in the chain. May be repeated.",
        )
        parser.add_argument(
            "--last", type=int, default=None, metavar="N", help="Only check the newest N blocks (quick check)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        last: int | None = options["last"]
        if last is not None and last < 1:
            raise CommandError("--last must be a positive number of blocks.")
        if options["seal_first"]:
            blocks = seal_all()
            self.stdout.write(
                _("Sealed %(rows)s pending events into %(blocks)s new blocks.")
                % {"rows": sum(b.row_count for b in blocks), "blocks": len(blocks)}
            )
        report = verify_chain(last_blocks=last, anchors=options["anchor"])
        self.stdout.write(
            _("Verified %(rows)s events in %(checked)s of %(total)s blocks.")
            % {"rows": report.rows_checked, "checked": report.blocks_checked, "total": report.total_blocks}
        )
        if report.head_seq is not None:
            self.stdout.write(
                _("Head: block %(seq)s, hash %(hash)s") % {"seq": report.head_seq, "hash": report.head_hash}
            )
            self.stdout.write(_("Write the head hash down outside the system; check it later with --anchor."))
        else:
            self.stdout.write(_("Head: nothing sealed yet."))
        self.stdout.write(_("Pending (not yet sealed): %(count)s events.") % {"count": report.pending_rows})
        for anchor in report.anchors:
            if anchor not in report.anchors_missing:
                self.stdout.write(_("Anchor %(hash)s is in the chain.") % {"hash": anchor})
        if report.problems:
            for problem in report.problems:
                self.stderr.write(f"[{problem.kind}] {problem.message}")
            raise CommandError(
                _("The audit log FAILED verification: %(count)s problem(s).") % {"count": len(report.problems)},
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(_("The audit log is intact: no edited, inserted or deleted events.")))
