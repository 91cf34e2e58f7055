"""Writing the demo district plan (``fengqiao.demo.generator``) to the database.

Idempotent: every record has a natural key (region path, unit code, username,
grid + person + responsibility, household number, the blind index of the
resident ID number), and only what is missing is written, so a second run
adds nothing. ``wipe_demo_data`` removes the district and everything that
hangs on it (except the append-only audit log) for ``--reset``. A grid that
already has households keeps them: loading another seed or size on top of a
loaded district changes nothing there (use ``--reset``).

Streets, communities and grids go through ``fengqiao.regions.services.create_region``
(code, hierarchy and grid-overlap checks), units through
``fengqiao.units.services.create_unit`` and grid responsibilities through
``fengqiao.units.services.assign_grid``; each of those writes its own audit
event. Staff accounts, their roles, households and residents are written in
bulk, covered by one summary audit event ("demo.load"):
``accounts.services.create_user`` needs an acting administrator and hashes
each password (PBKDF2, ~0.3 s a user, minutes for ~300 demo users), so all
demo users share one hash of the demo password; residents are sealed
(encrypted, masked, indexed) with ``seal_personal_fields`` before ``bulk_create``.
The province, prefecture and fictional district are written directly:
``create_region`` only creates streets and below.

Nobody is logged in while the demo loads: every event it writes (its own and
those of the services it calls) names the operator ``DEMO_ACTOR_NAME``
("System (demo data)", in the language of the command) through the audit
context. The system parameter ``platform.district_name`` is set to the demo
district's name when it is still empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.utils.translation import gettext_lazy

from fengqiao.accounts.models import Role, User
from fengqiao.accounts.roles import builtin_name, sync_builtin_roles
from fengqiao.audit.context import audit_context
from fengqiao.audit.models import Category
from fengqiao.audit.services import record
from fengqiao.core.personal import index_for, seal_personal_fields
from fengqiao.regions.models import PATH_WIDTH, Level, Region
from fengqiao.regions.services import create_region
from fengqiao.registry.models import Household, Resident
from fengqiao.system.models import Parameter
from fengqiao.system.services import ensure_default_parameters, update_parameter
from fengqiao.units.models import GridAssignment, Unit
from fengqiao.units.services import assign_grid, create_unit

from .generator import ASSIGNMENTS_FROM, DEMO_PASSWORD, DISTRICT, DISTRICT_PATH, DemoPlan, RegionPlan

Log = Callable[[str], None]

#: the operator of the audit events the loader writes (nobody is logged in)
DEMO_ACTOR_NAME = gettext_lazy("System (demo data)")

#: the system parameter holding the name of the district the platform serves
DISTRICT_NAME_PARAMETER = "platform.district_name"

#: what the command prints as the demo logins: one row per role, then the numbered series
LOGIN_TABLE_USERS = (
    "admin",
    "auditor",
    "leader",
    "district_centre",
    "risk_analyst",
    "command_room",
    "judge",
    "dept_housing",
    "dept_civil",
    "dept_market",
    "dept_petition",
    "street_centre_1",
    "street_leader_1",
    "community_1",
    "grid_worker_1",
    "liaison_1",
    "police_1",
)


@dataclass
class LoadResult:
    created: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    wiped: dict[str, int] = field(default_factory=dict)


def region_code(path: str, level: int) -> str:
    """The stored code of a region: 12 digits (path padded with zeros), 15 for a grid."""
    return path if level == Level.GRID else path.ljust(12, "0")


def quiet(_msg: str) -> None:
    return None


def load(plan: DemoPlan, *, reset: bool = False, log: Log = quiet, extras: bool = True) -> LoadResult:
    """Write ``plan``; with ``reset`` first remove the demo district and its data."""
    started = time.perf_counter()
    result = LoadResult()
    actor_name = str(DEMO_ACTOR_NAME)  # stored as text, in the language of the command
    with audit_context(source="command", actor_name=actor_name), transaction.atomic():
        if reset:
            result.wiped = wipe_demo_data()
            log(f"wiped: {result.wiped}")
        roles = _roles()
        _default_parameters()
        step = time.perf_counter()
        regions = _load_regions(plan, result)
        log(f"regions: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        units = _load_units(plan, regions, result)
        users = _load_staff(plan, units, roles, result)
        _load_assignments(plan, regions, users, result)
        log(f"units, staff, grid responsibilities: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        _load_registry(plan, regions, result)
        if extras:  # places, organisations, special-group memberships
            from fengqiao.registry.demo import load_demo_registry

            result.created.update(load_demo_registry(DISTRICT_PATH, plan.seed))
        log(f"households and residents: {time.perf_counter() - step:.1f} s")
        result.seconds = time.perf_counter() - started
        record(
            "demo.load",
            category=Category.SYSTEM,
            actor_name=actor_name,
            region_path=DISTRICT_PATH,
            detail={
                "seed": plan.seed,
                "residents_per_grid": plan.residents_per_grid,
                "reset": reset,
                "wiped": result.wiped,
                "created": result.created,
            },
            duration_ms=int(result.seconds * 1000),
        )
    return result


# --- roles and parameters --------------------------------------------------------


def _roles() -> dict[str, Role]:
    return sync_builtin_roles()


def _default_parameters() -> None:
    """The system parameters later features rely on (the system app's defaults), with the district's name."""
    ensure_default_parameters()
    parameter = Parameter.objects.filter(key=DISTRICT_NAME_PARAMETER).first()
    if parameter is not None and not parameter.value:  # a name set by an administrator stays
        update_parameter(parameter, actor=None, value=DISTRICT[1])


# --- regions ---------------------------------------------------------------------


def _current_regions(paths: Iterable[str]) -> dict[str, Region]:
    wanted = set(paths)
    qs = Region.objects.filter(valid_to__isnull=True).filter(Q(path__under=DISTRICT_PATH) | Q(path__in=wanted))
    return {r.path: r for r in qs if r.path in wanted}


def _load_regions(plan: DemoPlan, result: LoadResult) -> dict[str, Region]:
    existing = _current_regions(r.path for r in plan.regions)
    created = 0
    for spec in plan.regions:
        if spec.path in existing:
            continue
        parent = existing[spec.parent_path] if spec.parent_path else None
        if spec.level in (Level.STREET, Level.COMMUNITY, Level.GRID):
            if parent is None:
                raise ValueError(f"region {spec.path} needs its parent {spec.parent_path}")
            region = create_region(
                actor=None,
                parent=parent,
                code=region_code(spec.path, spec.level),
                name=spec.name,
                level=spec.level,
                boundary=spec.boundary,
            )
        else:
            # Province and prefecture are real GB/T 2260 divisions (the division
            # import may have created them already); the district is fictional.
            # Neither is creatable through create_region, which takes streets and below.
            region = _create_top_region(spec, parent)
        existing[spec.path] = region
        created += 1
    result.created["regions"] = created
    return existing


def _create_top_region(spec: RegionPlan, parent: Region | None) -> Region:
    if len(spec.path) != PATH_WIDTH[Level(spec.level)]:
        raise ValueError(f"{spec.path} is not a level-{spec.level} path")
    centroid = spec.centroid
    region = Region(
        code=region_code(spec.path, spec.level),
        name=spec.name,
        level=spec.level,
        parent=parent,
        path=spec.path,
        boundary=spec.boundary,
        centroid_lng=centroid[0] if centroid else None,
        centroid_lat=centroid[1] if centroid else None,
    )
    region.save()
    return region


# --- units, staff and grid responsibilities --------------------------------------


def _load_units(plan: DemoPlan, regions: dict[str, Region], result: LoadResult) -> dict[str, Unit]:
    units = {u.code: u for u in Unit.objects.filter(code__in=[u.code for u in plan.units])}
    created = 0
    for spec in plan.units:  # parents come before their children in the plan
        if spec.code in units:
            continue
        region = regions[spec.region_path]
        parent = units[spec.parent_code] if spec.parent_code else None
        unit = _create_unit(spec.code, spec.name, spec.kind, region, parent, spec.phone, spec.address)
        units[spec.code] = unit
        created += 1
    result.created["units"] = created
    return units


def _create_unit(
    code: str, name: str, kind: str, region: Region, parent: Unit | None, phone: str, address: str
) -> Unit:
    return create_unit(
        actor=None, code=code, name=name, kind=kind, region=region, parent=parent, phone=phone, address=address
    )


def _load_staff(plan: DemoPlan, units: dict[str, Unit], roles: dict[str, Role], result: LoadResult) -> dict[str, User]:
    usernames = [s.username for s in plan.staff]
    existing = {u.username: u for u in User.objects.filter(username__in=usernames)}
    password = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 per user would take minutes
    new = [
        User(
            username=spec.username,
            display_name=spec.display_name,
            first_name=spec.display_name[1:],
            last_name=spec.display_name[:1],
            phone=spec.phone,
            unit=units[spec.unit_code],
            is_staff=spec.is_staff,
            password=password,
        )
        for spec in plan.staff
        if spec.username not in existing
    ]
    User.objects.bulk_create(new, batch_size=500)
    users = {u.username: u for u in User.objects.filter(username__in=usernames).select_related("unit")}
    through = User.roles.through
    have = set(through.objects.filter(user_id__in=[u.pk for u in users.values()]).values_list("user_id", "role_id"))
    links = []
    for spec in plan.staff:
        pair = (users[spec.username].pk, roles[spec.role].pk)
        if pair not in have:
            links.append(through(user_id=pair[0], role_id=pair[1]))
    through.objects.bulk_create(links, batch_size=1000)
    result.created["users"] = len(new)
    result.created["role_links"] = len(links)
    return users


def _load_assignments(plan: DemoPlan, regions: dict[str, Region], users: dict[str, User], result: LoadResult) -> None:
    have = set(
        GridAssignment.objects.filter(region_path__under=DISTRICT_PATH, valid_to__isnull=True).values_list(
            "grid_id", "user_id", "role"
        )
    )
    created = 0
    for spec in plan.assignments:
        grid, user = regions[spec.grid_path], users[spec.username]
        if (grid.pk, user.pk, spec.role) in have:
            continue
        assign_grid(actor=None, grid=grid, user=user, role=spec.role, valid_from=ASSIGNMENTS_FROM)
        created += 1
    result.created["grid_assignments"] = created


# --- households and residents ----------------------------------------------------


def _load_registry(plan: DemoPlan, regions: dict[str, Region], result: LoadResult) -> None:
    # A grid that already has households is left alone: mixing two sizes or
    # seeds would give families from one plan in the houses of another.
    loaded = set(
        Household.objects.filter(region_path__under=DISTRICT_PATH).values_list("region_path", flat=True).distinct()
    )
    numbers = [h.number for h in plan.households if h.grid_path not in loaded]
    existing = set(Household.objects.filter(number__in=numbers).values_list("number", flat=True))
    new_households = [
        Household(
            number=spec.number,
            grid=regions[spec.grid_path],
            region_path=spec.grid_path,
            address=spec.address,
            lng=spec.lng,
            lat=spec.lat,
        )
        for spec in plan.households
        if spec.grid_path not in loaded and spec.number not in existing
    ]
    Household.objects.bulk_create(new_households, batch_size=1000)
    households = dict(Household.objects.filter(number__in=numbers).values_list("number", "pk"))
    known = set(Resident.objects.filter(region_path__under=DISTRICT_PATH).values_list("id_number_index", flat=True))
    new_residents = []
    for spec in plan.residents:
        if spec.grid_path in loaded or index_for("id_number", spec.id_number) in known:
            continue
        resident = Resident(
            household_id=households[spec.household_number],
            grid=regions[spec.grid_path],
            region_path=spec.grid_path,
            name=spec.name,
            id_number=spec.id_number,
            phone=spec.phone,
            gender=spec.gender,
            birth_date=spec.birth_date,
            relation=spec.relation,
        )
        seal_personal_fields(resident)
        new_residents.append(resident)
    Resident.objects.bulk_create(new_residents, batch_size=500)
    result.created["households"] = len(new_households)
    result.created["residents"] = len(new_residents)


# --- reset -------------------------------------------------------------------------


def _demo_filter(model: type[models.Model], user_ids: list[int]) -> Q | None:
    """Rows of ``model`` that belong to the demo district (or to its staff)."""
    q: Q | None = None
    for f in model._meta.concrete_fields:
        part: Q | None = None
        if model is Region and f.name == "path":
            part = Q(path__under=DISTRICT_PATH)
        elif f.name == "region_path":
            part = Q(region_path__under=DISTRICT_PATH)
        elif f.is_relation and f.related_model is Region:
            part = Q(**{f"{f.name}__path__under": DISTRICT_PATH})
        elif f.is_relation and f.related_model is Unit:
            part = Q(**{f"{f.name}__region_path__under": DISTRICT_PATH})
        elif f.is_relation and f.related_model is User and user_ids:
            part = Q(**{f"{f.name}__in": user_ids})
        if part is not None:
            q = part if q is None else q | part
    return q


def _self_parent(model: type[models.Model]) -> str | None:
    for f in model._meta.concrete_fields:
        if f.is_relation and f.related_model is model:
            return f.name
    return None


def _delete(model: type[models.Model], q: Q) -> int:
    """Delete the matching rows; trees (a foreign key to the model itself) leaves first."""
    label = model._meta.label
    parent = _self_parent(model)
    if parent is None:
        return model._base_manager.filter(q).delete()[1].get(label, 0)
    total = 0
    while True:
        remaining = model._base_manager.filter(q)
        referenced = remaining.filter(**{f"{parent}__isnull": False}).values(parent)
        leaves = remaining.exclude(pk__in=referenced)
        if not leaves.exists():
            return total
        total += leaves.delete()[1].get(label, 0)


def _wipe_cases() -> None:
    """Cases of the district with their append-only history (events point at cases, so they go first)."""
    from fengqiao.cases.models import Attachment, Case, CaseEvent, DutyAlert

    cases = Case.objects.filter(region_path__under=DISTRICT_PATH)
    with transaction.atomic():
        DutyAlert.objects.filter(Q(case__in=cases) | Q(region_path__under=DISTRICT_PATH)).delete()  # with digests
        Attachment.objects.filter(case__in=cases).delete()
        CaseEvent.objects.filter(case__in=cases).delete()
        Case.objects.filter(merged_into__in=cases).update(merged_into=None)
        cases.delete()


def wipe_demo_data() -> dict[str, int]:
    """Delete the demo district: every row under it in every Fengqiao app, its staff and its regions.

    The audit log is append-only and keeps its events unchanged: an event of a
    deleted demo user keeps its ``actor_id`` and operator name (the actor
    reference has no database constraint and is never cascaded).
    Rows of apps added later are found by their region path, their region,
    unit or user: each model is retried until what protects its rows is gone.
    """
    _wipe_cases()
    user_ids = list(User.objects.filter(unit__region_path__under=DISTRICT_PATH).values_list("pk", flat=True))
    candidates: list[tuple[type[models.Model], Q]] = []
    for model in apps.get_models():
        label = model._meta.app_label
        if model._meta.auto_created or label == "audit" or model is Role:
            continue
        if not (model.__module__.startswith("fengqiao.") or label == "admin"):
            continue
        q = _demo_filter(model, user_ids)
        if q is not None:
            candidates.append((model, q))
    deleted: dict[str, int] = {}
    for _round in range(len(candidates) + 1):
        pending: list[tuple[type[models.Model], Q]] = []
        for model, q in candidates:
            try:
                with transaction.atomic():
                    count = _delete(model, q)
            except (ProtectedError, RestrictedError):
                pending.append((model, q))
                continue
            if count:
                deleted[model._meta.label] = deleted.get(model._meta.label, 0) + count
        if not pending:
            return deleted
        if len(pending) == len(candidates):
            break
        candidates = pending
    names = ", ".join(m._meta.label for m, _q in candidates)
    raise RuntimeError(f"Could not remove the demo data of: {names} (rows elsewhere still point at them).")


def login_rows(plan: DemoPlan) -> list[tuple[str, str, str]]:
    """(username, role name, unit name) for the printed demo logins table."""
    units = {u.code: u.name for u in plan.units}
    by_name = {s.username: s for s in plan.staff}
    return [
        (name, builtin_name(by_name[name].role) or by_name[name].role, units[by_name[name].unit_code])
        for name in LOGIN_TABLE_USERS
        if name in by_name
    ]


def series(plan: DemoPlan) -> list[tuple[str, int]]:
    """The numbered login series and their sizes, e.g. ("grid_worker_", 128)."""
    counts: dict[str, int] = {}
    for s in plan.staff:
        stem, _sep, number = s.username.rpartition("_")
        if number.isdigit():
            counts[stem + "_"] = counts.get(stem + "_", 0) + 1
    return sorted(counts.items())
