"""The intake inbox (write-behind): receive a resident's report in one row, register it later.

Public API (the report form and Open311 both use it):

``receive_report(*, community, category, description, channel, idempotency_key, ...) -> Submission``
    Checks everything that can be checked without routing the report (the same
    ``fengqiao.cases.services.clean_case_input`` that ``submit_case`` runs: category active and
    used in the community's district, extra fields, description, phone, photos by content, the
    point's range, the community) and raises ``ValidationError`` keyed by field; writes nothing
    then. Otherwise stores the photos and writes **one** ``Submission`` row with a new private
    token, and asks a worker to register it (``kick_drain``). A repeated ``idempotency_key``
    returns the existing row with ``replayed = True`` and writes nothing.

``drain_inbox(...) -> DrainResult``
    Turns pending rows into cases in batches (run by the ``drain_inbox`` task: kicked after each
    receipt and scheduled every few seconds). Per batch: the rows are claimed with
    ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never take the same row), routed together
    (``cases.services.place_cases``: one vectorised point-in-grid look-up, one centre query) and
    written through ``cases.services.create_case`` — the code path of ``submit_case`` — with the
    row's token, idempotency key and time of receipt. A row that cannot become a case is marked
    failed with the reason, audited, and the inbox administrators are notified.

``retry_submission(submission, *, actor) -> Submission``
    Puts a failed row back in the queue (after the cause was fixed, e.g. a centre set up).

Receipt itself is not an audit event: the inbox row is the record of receipt, and the case's
``cases.submit`` audit row (actor "Resident") is written when it is registered.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.cases import services as case_services
from fengqiao.cases.models import Case, Category, Channel, new_public_token
from fengqiao.cases.services import CaseInput, Placement
from fengqiao.core.personal import EncryptedValue
from fengqiao.regions.models import Region
from fengqiao.workdays.deadlines import Calendar

from .models import Submission, SubmissionStatus

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
#: a drain task stops taking new batches after this long (the next kick or schedule continues)
DRAIN_SECONDS = 20.0
#: at most one kick (task enqueue) per this many seconds per process (per cache)
KICK_SECONDS = 1
_KICK_KEY = "fq:intake:drain-kick"
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
ADMIN_PERMISSION = "intake.change_submission"


# --- receiving --------------------------------------------------------------------------------


def _store_photos(files: Sequence[UploadedFile], token: str, now: datetime.datetime) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    try:
        for i, f in enumerate(files, start=1):
            content_type = case_services.validate_upload(f)  # already checked: gives the type
            name = f"intake/{timezone.localtime(now):%Y/%m}/{token}/{i}{_EXT.get(content_type, '')}"
            path = default_storage.save(name, f)
            stored.append(
                {"path": path, "name": (f.name or "")[-200:], "content_type": content_type, "size": f.size or 0}
            )
    except Exception:
        _delete_photos(stored)
        raise
    return stored


def _delete_photos(photos: Sequence[dict[str, Any]]) -> None:
    for photo in photos:
        try:
            default_storage.delete(str(photo.get("path", "")))
        except OSError:
            logger.warning("could not delete inbox photo %s", photo.get("path"))


def receive_report(
    *,
    community: Region | None,
    category: Category,
    description: str,
    idempotency_key: str,
    channel: str = Channel.QR,
    lng: float | None = None,
    lat: float | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    extra: dict[str, Any] | None = None,
    files: Sequence[UploadedFile] = (),
    received_at: datetime.datetime | None = None,
) -> Submission:
    """Check a resident's report and put it in the inbox; see the module docstring.

    ``idempotency_key`` (16–64 characters) identifies one filling-in of the form (or one API
    request): sending it again returns the first ``Submission`` (``replayed`` True).
    The caller gives the resident ``submission.public_token`` (the private link) at once.
    """
    key = (idempotency_key or "").strip()
    if not 16 <= len(key) <= 64:
        raise ValidationError({"idempotency_key": _("This form was out of date. Check your report and send it again.")})
    # no look-up first: a repeated key is rare and the unique constraint finds it (below)
    data = case_services.clean_case_input(
        category=category,
        description=description,
        channel=channel,
        community=community,
        lng=lng,
        lat=lat,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        anonymous=anonymous,
        extra=extra,
        files=files,
    )
    now = received_at or timezone.now()
    token = new_public_token()
    photos = _store_photos(files, token, now)
    submission = Submission(
        public_token=token,
        idempotency_key=key,
        channel=data.channel,
        category=data.category,
        community=data.community,
        region_path=data.community.path if data.community is not None else "",
        payload={
            "description": data.description,
            "lng": data.lng,
            "lat": data.lat,
            "address": data.address,
            "anonymous": data.anonymous,
            "extra": data.extra,
            "photos": photos,
        },
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        received_at=now,
    )
    try:
        if connection.in_atomic_block:  # inside the caller's transaction: a savepoint keeps it usable
            with transaction.atomic():
                submission.save(force_insert=True)
        else:  # one INSERT is atomic by itself (no BEGIN/COMMIT round trips on the busiest write)
            submission.save(force_insert=True)
    except IntegrityError:
        _delete_photos(photos)
        existing = _replay(key)
        if existing is None:
            # not a repeated key: a community or category the form had cached was deleted meanwhile
            from .selectors import clear_public_cache

            clear_public_cache()
            raise
        return existing
    kick_drain()
    return submission


def _replay(key: str) -> Submission | None:
    existing = Submission.objects.filter(idempotency_key=key).first()
    if existing is not None:
        existing.replayed = True
    return existing


# --- asking a worker --------------------------------------------------------------------------


def _runs_immediately() -> bool:
    from django_tasks.backends.immediate import ImmediateBackend

    from .tasks import drain_inbox as drain_task

    return isinstance(drain_task.get_backend(), ImmediateBackend)


def kick_drain() -> None:
    """Ask a worker to drain the inbox soon (enqueue the ``drain_inbox`` task).

    At most once per ``KICK_SECONDS`` per cache (the local cache: per process; Redis: for all), so
    a burst of reports enqueues a handful of tasks, not one per report; the scheduled drain
    catches anything a throttled kick left behind. With a backend that runs tasks at once
    (the immediate backend of the tests) every kick runs a drain: the case then exists when the
    request returns. Never raises: the report is safely in the inbox whatever happens here.
    """
    try:
        from .tasks import drain_inbox as drain_task

        if not _runs_immediately() and not cache.add(_KICK_KEY, 1, timeout=KICK_SECONDS):
            return
        drain_task.enqueue()
    except Exception:
        logger.exception("could not ask a worker to drain the intake inbox; the schedule will")


# --- draining ---------------------------------------------------------------------------------


@dataclass
class DrainResult:
    created: int = 0
    linked: int = 0  # rows whose case already existed (same idempotency key)
    failed: int = 0
    batches: int = 0
    case_ids: list[int] = field(default_factory=list)

    def add(self, other: DrainResult) -> None:
        self.created += other.created
        self.linked += other.linked
        self.failed += other.failed
        self.batches += other.batches
        self.case_ids += other.case_ids

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "linked": self.linked, "failed": self.failed, "batches": self.batches}


def claim_batch(limit: int = BATCH_SIZE) -> list[Submission]:
    """Lock up to ``limit`` pending rows, oldest first, skipping rows another drain holds.

    Call inside a transaction: the rows stay claimed until it ends. (On SQLite, which has no row
    locks, a write transaction holds the whole database, so two drains simply take turns.)
    """
    rows = list(
        Submission.objects.filter(status=SubmissionStatus.PENDING)
        .select_related("community__parent__parent__parent__parent")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")[:limit]
    )
    categories = Category.objects.select_related("district").in_bulk({r.category_id for r in rows})
    for row in rows:
        if row.category_id in categories:
            row.category = categories[row.category_id]
    return rows


def _plain(value: Any) -> str:
    # moving the resident's own data from the inbox row into the case (both encrypted columns,
    # each bound to its own column): a system transfer, not a disclosure to a person
    return value.plaintext() if isinstance(value, EncryptedValue) else str(value or "")


def _open_photos(photos: Sequence[dict[str, Any]]) -> list[UploadedFile]:
    return [
        UploadedFile(
            file=default_storage.open(str(p["path"]), "rb"),
            name=str(p.get("name") or p["path"]),
            content_type=str(p.get("content_type") or ""),
            size=int(p.get("size") or 0),
        )
        for p in photos
    ]


def _input_for(row: Submission, files: Sequence[UploadedFile]) -> CaseInput:
    payload = row.payload or {}
    return case_services.clean_case_input(
        category=row.category,
        description=str(payload.get("description", "")),
        channel=row.channel,
        community=row.community,
        lng=payload.get("lng"),
        lat=payload.get("lat"),
        address=str(payload.get("address", "")),
        reporter_name=_plain(row.reporter_name),
        reporter_phone=_plain(row.reporter_phone),
        anonymous=bool(payload.get("anonymous")),
        extra=payload.get("extra") or {},
        files=files,
    )


def _reason(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)[:1000] or _("The report could not be checked.")


@transaction.atomic
def drain_batch(limit: int = BATCH_SIZE) -> DrainResult:
    """Claim one batch of pending rows and register each as a case (or mark it failed)."""
    result = DrainResult(batches=1)
    rows = claim_batch(limit)
    if not rows:
        result.batches = 0
        return result
    now = timezone.now()
    existing = dict(
        Case.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]).values_list("idempotency_key", "pk")
    )
    todo: list[tuple[Submission, CaseInput, list[UploadedFile]]] = []
    failed: list[Submission] = []
    for row in rows:
        row.attempts += 1
        row.processed_at = now
        if row.idempotency_key in existing:
            row.status, row.case_id, row.error = SubmissionStatus.DONE, existing[row.idempotency_key], ""
            result.linked += 1
            continue
        if not Submission.category.is_cached(row):  # deleted since receipt (no database constraint)
            failed.append(_fail(row, _("The category of the report no longer exists.")))
            continue
        files: list[UploadedFile] = []
        try:
            files = _open_photos((row.payload or {}).get("photos") or [])
            todo.append((row, _input_for(row, files), files))
        except ValidationError as exc:
            _close(files)
            failed.append(_fail(row, _reason(exc)))
        except OSError:
            logger.exception("inbox row %s: its photos could not be read", row.pk)
            _close(files)
            failed.append(_fail(row, _("The photos sent with the report could not be read.")))
    placements = case_services.place_cases([data for _row, data, _files in todo])
    calendar = Calendar()  # one snapshot of the working-day calendar for the batch's deadlines
    for (row, data, files), placement in zip(todo, placements, strict=True):
        try:
            if isinstance(placement, ValidationError):
                raise placement
            case = _create(row, data, placement, files, calendar)
        except ValidationError as exc:
            failed.append(_fail(row, _reason(exc)))
        except Exception:
            logger.exception("inbox row %s could not be registered", row.pk)
            failed.append(_fail(row, _("An unexpected error occurred while registering the report.")))
        else:
            row.status, row.case_id, row.error = SubmissionStatus.DONE, case.pk, ""
            result.created += 1
            result.case_ids.append(case.pk)
        finally:
            _close(files)
    Submission.objects.bulk_update(rows, ["status", "case", "error", "attempts", "processed_at"])
    done_photos = [p for r in rows if r.status == SubmissionStatus.DONE for p in (r.payload or {}).get("photos") or []]
    if done_photos:  # the case holds its own copies now
        transaction.on_commit(lambda: _delete_photos(done_photos))
    if result.case_ids:
        created = list(result.case_ids)
        transaction.on_commit(lambda: _enqueue_notices(created))
    if failed:
        result.failed = len(failed)
        _report_failures(failed)
    return result


def _create(
    row: Submission, data: CaseInput, placement: Placement, files: Sequence[UploadedFile], calendar: Any
) -> Case:
    try:
        # create_case is atomic: inside the batch's transaction a savepoint, so a failing row
        # leaves the rest of the batch alone
        return case_services.create_case(
            data,
            placement,
            idempotency_key=row.idempotency_key,
            public_token=row.public_token,
            files=files,
            received_at=row.received_at,
            notify=False,  # one notification task for the batch (below)
            calendar=calendar,
        )
    except IntegrityError:
        # the same key registered meanwhile (another path): link to it
        case = Case.objects.filter(idempotency_key=row.idempotency_key).first()
        if case is None:
            raise
        return case


def _enqueue_notices(case_ids: list[int]) -> None:
    from .tasks import notify_new_cases

    try:
        notify_new_cases.enqueue(case_ids)
    except Exception:  # a notification never breaks intake (the duty alerts are already there)
        logger.exception("could not enqueue the new-case notifications for %d cases", len(case_ids))


def _close(files: Sequence[UploadedFile]) -> None:
    for f in files:
        with contextlib.suppress(OSError):
            f.close()


def _fail(row: Submission, reason: str) -> Submission:
    row.status, row.error = SubmissionStatus.FAILED, reason
    return row


def _report_failures(rows: Sequence[Submission]) -> None:
    for row in rows:
        record(
            "intake.submission.fail",
            obj=row,
            after={"status": row.status, "error": row.error, "attempts": row.attempts},
            actor_name=_("System"),
        )
    users = inbox_administrators()
    if not users:
        logger.error("%d intake report(s) could not be registered and nobody administers the inbox", len(rows))
        return
    from fengqiao.notifications.services import notify

    for row in rows:
        notify(
            users,
            "intake.failed",
            _("A resident's report could not be registered"),
            _("Received %(at)s: %(reason)s")
            % {"at": f"{timezone.localtime(row.received_at):%Y-%m-%d %H:%M}", "reason": row.error},
            url="/r/inbox/",
            dedupe_key=f"intake:failed:{row.pk}:{row.attempts}",
        )


def inbox_administrators() -> list[Any]:
    """Active staff who may retry failed reports (they are told when one fails)."""
    from fengqiao.accounts.models import User

    app_label, codename = ADMIN_PERMISSION.split(".", 1)
    holders = Q(roles__permissions__content_type__app_label=app_label, roles__permissions__codename=codename)
    return list(User.objects.filter(holders | Q(is_superuser=True), is_active=True).distinct().order_by("pk"))


def drain_inbox(*, batch_size: int = BATCH_SIZE, seconds: float = DRAIN_SECONDS) -> DrainResult:
    """Drain batches until the inbox has no claimable pending row or ``seconds`` have passed."""
    total = DrainResult()
    deadline = time.monotonic() + seconds
    while True:
        result = drain_batch(batch_size)
        total.add(result)
        claimed = result.created + result.linked + result.failed
        if claimed < batch_size or time.monotonic() >= deadline:
            return total


# --- staff ------------------------------------------------------------------------------------


@transaction.atomic
def retry_submission(submission: Submission, *, actor: Any) -> Submission:
    """Put a failed report back in the queue (the cause fixed, e.g. a centre set up for the place)."""
    row = Submission.objects.select_for_update().get(pk=submission.pk)
    if row.status != SubmissionStatus.FAILED:
        raise ValidationError(_("Only a report that could not be registered can be tried again."))
    before = {"status": row.status, "error": row.error}
    row.status, row.error = SubmissionStatus.PENDING, ""
    row.save(update_fields=["status", "error"])
    record("intake.submission.retry", actor=actor, obj=row, before=before, after={"status": row.status})
    transaction.on_commit(kick_drain)
    return row


__all__ = [
    "DrainResult",
    "claim_batch",
    "drain_batch",
    "drain_inbox",
    "kick_drain",
    "receive_report",
    "retry_submission",
]
