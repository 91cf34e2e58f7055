"""Proof of the data-scope mechanism: for every scoped model and every scope, who sees what.

Expected rows are written out by hand (allowed), then the deny-by-default cases (denied),
then combinations (constrained: roles OR-ed; "view" does not give "change"), then a
Hypothesis test against an independent brute-force reference, then query counts.
The world is described in fengqiao/accounts/tests/factories.py.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.accounts.models import User
from fengqiao.accounts.tests.factories import (
    COMMUNITIES,
    COUNTY,
    GRIDS,
    MODEL_PERMS,
    STREETS,
    World,
    build_world,
    g,
    grant,
    make_role,
    make_user,
)
from fengqiao.audit.models import AuditEvent
from fengqiao.core.scope import DataScope
from fengqiao.regions.models import Region
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import GridAssignment, GridRole, Unit

MODELS: dict[str, Any] = {
    "region": Region,
    "unit": Unit,
    "user": User,
    "gridassignment": GridAssignment,
    "household": Household,
    "resident": Resident,
    "auditevent": AuditEvent,
}


def key(name: str, obj: Any) -> str:
    """The key a row has in the expectations below."""
    if name == "region":
        return obj.path
    if name == "unit":
        return obj.code
    if name == "user":
        return obj.username
    if name == "gridassignment":
        return f"{obj.user.username}@{obj.region_path}"
    if name == "household":
        return obj.number
    if name == "resident":
        return f"R{obj.region_path}"
    return obj.action


def seen(name: str, user: Any, action: str = "view") -> set[str]:
    qs = MODELS[name].objects.restrict(user, action)
    if name == "gridassignment":
        qs = qs.select_related("user")
    return {key(name, obj) for obj in qs}


def every(name: str, w: World) -> set[str]:
    return {key(name, obj) for obj in MODELS[name].objects.all()}


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


S1, S2 = STREETS
C11, C12, C21, C22 = COMMUNITIES
G111, G112, G121, G122, G211, G212, G221, G222 = GRIDS

# --- allowed: each scope, each model, rows written out ------------------------------------

#: (scope, actor, custom unit codes)
SUBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    DataScope.ALL: ("s1", ()),
    DataScope.UNIT: ("s1", ()),
    DataScope.UNIT_AND_BELOW: ("s1", ()),
    DataScope.CUSTOM: ("s1", (f"U-{C12}", f"U-{C21}")),
    DataScope.SELF: ("s1", ()),
    DataScope.GRIDS: ("gw11", ()),
}

EXPECTED: dict[tuple[str, str], set[str] | None] = {
    # None: every row
    ("region", DataScope.ALL): None,
    ("region", DataScope.UNIT): {S1},
    ("region", DataScope.UNIT_AND_BELOW): {S1, C11, C12, G111, G112, G121, G122},
    ("region", DataScope.CUSTOM): {C12, G121, G122, C21, G211, G212},
    ("region", DataScope.SELF): set(),
    ("region", DataScope.GRIDS): {G111},
    ("unit", DataScope.ALL): None,
    ("unit", DataScope.UNIT): {f"U-{S1}"},
    ("unit", DataScope.UNIT_AND_BELOW): {f"U-{S1}", f"U-{C11}", f"U-{C12}"},
    ("unit", DataScope.CUSTOM): {f"U-{C12}", f"U-{C21}"},
    ("unit", DataScope.SELF): set(),
    ("unit", DataScope.GRIDS): set(),
    ("user", DataScope.ALL): None,
    ("user", DataScope.UNIT): {"s1"},
    ("user", DataScope.UNIT_AND_BELOW): {"s1", "c11", "c12", "gw11"},
    ("user", DataScope.CUSTOM): {"c12", "c21", "gw21"},
    ("user", DataScope.SELF): {"s1"},
    ("user", DataScope.GRIDS): {"gw11"},
    ("gridassignment", DataScope.ALL): None,
    ("gridassignment", DataScope.UNIT): set(),
    ("gridassignment", DataScope.UNIT_AND_BELOW): {f"gw11@{G111}", f"gw11@{G112}", f"gw11@{G121}"},
    ("gridassignment", DataScope.CUSTOM): {f"gw11@{G121}", f"gw21@{G211}"},
    ("gridassignment", DataScope.SELF): set(),
    ("gridassignment", DataScope.GRIDS): {f"gw11@{G111}", f"gw11@{G112}", f"gw11@{G121}"},
    ("household", DataScope.ALL): None,
    ("household", DataScope.UNIT): set(),
    ("household", DataScope.UNIT_AND_BELOW): {f"H{p}" for p in (G111, G112, G121, G122)},
    ("household", DataScope.CUSTOM): {f"H{p}" for p in (G121, G122, G211, G212)},
    ("household", DataScope.SELF): set(),
    ("household", DataScope.GRIDS): {f"H{G111}"},
    ("resident", DataScope.ALL): None,
    ("resident", DataScope.UNIT): set(),
    ("resident", DataScope.UNIT_AND_BELOW): {f"R{p}" for p in (G111, G112, G121, G122)},
    ("resident", DataScope.CUSTOM): {f"R{p}" for p in (G121, G122, G211, G212)},
    ("resident", DataScope.SELF): set(),
    ("resident", DataScope.GRIDS): {f"R{G111}"},
    ("auditevent", DataScope.ALL): None,
    ("auditevent", DataScope.UNIT): {"ev-street1"},
    ("auditevent", DataScope.UNIT_AND_BELOW): {f"ev-{p}" for p in (G111, G112, G121, G122)} | {"ev-street1"},
    ("auditevent", DataScope.CUSTOM): {f"ev-{p}" for p in (G121, G122, G211, G212)},
    ("auditevent", DataScope.SELF): {"ev-s1-login", "ev-county"},
    ("auditevent", DataScope.GRIDS): {f"ev-{G111}", "ev-gw11-login"},
}


def test_world_has_the_documented_shape(world: World) -> None:
    assert len(world.regions) == 15
    assert [r.path for r in Region.objects.filter(level=6)] == list(GRIDS)
    assert g(2, 2, 2) == "440305002002002"
    assert {len(p) for p in (COUNTY, S1, C11, G111)} == {6, 9, 12, 15}
    assert len(every("unit", world)) == 8
    assert len(every("user", world)) == 11
    assert len(every("auditevent", world)) == 12


@pytest.mark.parametrize("scope", list(SUBJECTS))
@pytest.mark.parametrize("name", list(MODELS))
def test_allowed_each_model_each_scope(world: World, name: str, scope: str) -> None:
    username, custom_codes = SUBJECTS[scope]
    role = make_role(
        f"r-{name}-{scope}", [MODEL_PERMS[name]], scope, custom_units=[world.units[c] for c in custom_codes]
    )
    actor = grant(world.users[username], role)
    expected = EXPECTED[(name, scope)]
    assert seen(name, actor) == (every(name, world) if expected is None else expected)


@pytest.mark.parametrize("name", list(MODELS))
def test_superuser_sees_everything(world: World, name: str) -> None:
    assert seen(name, world.users["root"]) == every(name, world)


# --- denied --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_denied_without_a_role_granting_the_permission(world: World, name: str) -> None:
    other_perms = [perm for model, perm in MODEL_PERMS.items() if model != name]
    actor = grant(world.users["s1"], make_role("others", other_perms, DataScope.ALL))
    assert seen(name, actor) == set()
    assert seen(name, grant(world.users["s2"])) == set()  # no role at all


@pytest.mark.parametrize("name", list(MODELS))
def test_denied_for_an_inactive_user(world: World, name: str) -> None:
    actor = grant(world.users["s1"], make_role("all", list(MODEL_PERMS.values()), DataScope.ALL))
    assert seen(name, actor)  # sanity: active, sees rows
    actor.is_active = False
    actor.save()
    assert seen(name, User.objects.get(pk=actor.pk)) == set()


@pytest.mark.parametrize("name", list(MODELS))
def test_denied_for_anonymous(world: World, name: str) -> None:
    assert seen(name, AnonymousUser()) == set()
    assert seen(name, None) == set()


def test_denied_when_scope_needs_a_unit_the_user_lacks(world: World) -> None:
    role = make_role("r", list(MODEL_PERMS.values()), DataScope.UNIT_AND_BELOW)
    unitless = grant(make_user("nounit", None), role)
    for name in MODELS:
        assert seen(name, unitless) == set(), name


def test_denied_custom_scope_without_units_and_grids_scope_without_duty(world: World) -> None:
    custom = make_role("custom-empty", list(MODEL_PERMS.values()), DataScope.CUSTOM)
    grids = make_role("grids", list(MODEL_PERMS.values()), DataScope.GRIDS)
    actor = grant(world.users["c22"], custom, grids)  # c22 has no grid duty
    for name in MODELS:
        assert seen(name, actor) <= {"c22"}, name  # only its own user row (grids include own records)
    assert seen("user", actor) == {"c22"}


def test_unknown_scope_fails_closed(world: World) -> None:
    role = make_role("weird", list(MODEL_PERMS.values()), DataScope.ALL)
    type(role).objects.filter(pk=role.pk).update(data_scope="everything")
    actor = grant(world.users["s1"], role)
    for name in MODELS:
        assert seen(name, actor) == set(), name


# --- constrained ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_two_roles_are_ored(world: World, name: str) -> None:
    perm = [MODEL_PERMS[name]]
    unit_role = make_role("unit", perm, DataScope.UNIT)
    custom_role = make_role(
        "custom", perm, DataScope.CUSTOM, custom_units=[world.units[f"U-{C12}"], world.units[f"U-{C21}"]]
    )
    self_role = make_role("self", perm, DataScope.SELF)
    actor = grant(world.users["s1"], unit_role, custom_role, self_role)
    expected = set()
    for scope in (DataScope.UNIT, DataScope.CUSTOM, DataScope.SELF):
        expected |= EXPECTED[(name, scope)] or set()
    assert seen(name, actor) == expected


@pytest.mark.parametrize("name", list(MODELS))
def test_view_does_not_grant_change(world: World, name: str) -> None:
    actor = grant(world.users["s1"], make_role("viewer", [MODEL_PERMS[name]], DataScope.ALL))
    assert seen(name, actor, "view") == every(name, world)
    assert seen(name, actor, "change") == set()
    assert seen(name, actor, "delete") == set()


def test_scope_is_per_permission(world: World) -> None:
    viewer = make_role("viewer", ["registry.view_household"], DataScope.ALL)
    editor = make_role("editor", ["registry.change_household"], DataScope.UNIT_AND_BELOW)
    actor = grant(world.users["s2"], viewer, editor)
    assert seen("household", actor, "view") == every("household", world)
    assert seen("household", actor, "change") == {f"H{p}" for p in (G211, G212, G221, G222)}


def test_expired_and_future_grid_duty_gives_nothing(world: World) -> None:
    actor = grant(world.users["gw11"], make_role("gw", [MODEL_PERMS["household"]], DataScope.GRIDS))
    assert seen("household", actor) == {f"H{G111}"}  # not g112 (expired), not g121 (future)


# --- Hypothesis: restrict() equals an independent brute-force filter ------------------------

TODAY_OFFSETS = st.sampled_from(["current", "expired", "future"])


def _row_facts(name: str, obj: Any) -> tuple[str | None, int | None, int | None]:
    """(region path, unit id, owner id) of a row, read off the model directly."""
    if name == "region":
        return obj.path, None, None
    if name == "unit":
        return obj.region_path, obj.pk, None
    if name == "user":
        return (obj.unit.region_path if obj.unit_id else None), obj.unit_id, obj.pk
    if name == "gridassignment":
        return obj.region_path, None, obj.user_id
    if name in ("household", "resident"):
        return obj.region_path, None, None
    return obj.region_path, None, obj.actor_id


#: which facts each model's "own unit" and "self" scopes look at
HAS_UNIT = {"unit", "user"}
HAS_OWNER = {"user", "gridassignment", "auditevent"}


def reference(name: str, facts: tuple[str | None, int | None, int | None], actor: dict[str, Any]) -> bool:
    """Whether ``actor`` may view a row, from the scope definitions alone."""
    if not actor["active"]:
        return False
    path, unit_id, owner_id = facts
    for scope, perms, custom_paths in actor["roles"]:
        if MODEL_PERMS[name] not in perms:
            continue
        if scope == "all":
            return True
        if scope == "self" and name in HAS_OWNER and owner_id == actor["id"]:
            return True
        if scope == "unit" and actor["unit_id"] is not None:
            if name in HAS_UNIT:
                if unit_id == actor["unit_id"]:
                    return True
            elif path == actor["unit_path"]:
                return True
        if scope == "unit_and_below" and actor["unit_path"] and path and path.startswith(actor["unit_path"]):
            return True
        if scope == "custom" and path and any(path.startswith(p) for p in custom_paths):
            return True
        if scope == "grids":
            if path and any(path.startswith(p) for p in actor["grids"]):
                return True
            if name in HAS_OWNER and owner_id == actor["id"]:
                return True
    return False


role_strategy = st.tuples(
    st.sampled_from([s.value for s in DataScope]),
    st.sets(st.sampled_from(sorted(MODEL_PERMS.values())), min_size=1),
    st.sets(
        st.sampled_from(sorted(["U-" + p for p in (COUNTY, *STREETS, *COMMUNITIES)] + [f"D-{COUNTY}"])), max_size=3
    ),
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    unit_code=st.one_of(
        st.none(), st.sampled_from(["U-" + p for p in (COUNTY, *STREETS, *COMMUNITIES)] + [f"D-{COUNTY}"])
    ),
    roles=st.lists(role_strategy, max_size=3),
    duty=st.lists(st.tuples(st.sampled_from(GRIDS), TODAY_OFFSETS), max_size=3),
    active=st.booleans(),
)
def test_restrict_matches_brute_force(world: World, unit_code: Any, roles: Any, duty: Any, active: bool) -> None:
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    with transaction.atomic():
        unit = world.units[unit_code] if unit_code else None
        user = make_user("hyp", unit, is_active=active)
        role_objs = [
            make_role(f"h{i}", sorted(perms), scope, custom_units=[world.units[c] for c in sorted(custom)])
            for i, (scope, perms, custom) in enumerate(roles)
        ]
        current_grids = set()
        for path, when in duty:
            start, end = {
                "current": (today - day, None),
                "expired": (today - 10 * day, today),
                "future": (today + day, None),
            }[when]
            GridAssignment.objects.create(
                grid=world.regions[path],
                user=user,
                role=GridRole.GRID_WORKER,
                region_path=path,
                valid_from=start,
                valid_to=end,
            )
            if when == "current":
                current_grids.add(path)
        actor = grant(user, *role_objs)
        description = {
            "id": user.pk,
            "active": active,
            "unit_id": unit.pk if unit else None,
            "unit_path": unit.region_path if unit else None,
            "grids": current_grids,
            "roles": [(scope, perms, [world.units[c].region_path for c in custom]) for scope, perms, custom in roles],
        }
        for name, model in MODELS.items():
            rows = model.objects.select_related("unit") if name == "user" else model.objects.all()
            expected = {obj.pk for obj in rows if reference(name, _row_facts(name, obj), description)}
            got = set(model.objects.restrict(actor, "view").values_list("pk", flat=True))
            assert got == expected, (name, roles, unit_code, duty)
        transaction.set_rollback(True)


# --- query cost ------------------------------------------------------------------------------


def test_grants_resolve_in_at_most_two_queries(world: World, django_assert_max_num_queries: Any) -> None:
    perms = list(MODEL_PERMS.values())
    roles = [
        make_role("a", perms, DataScope.UNIT_AND_BELOW),
        make_role("b", perms, DataScope.CUSTOM, custom_units=[world.units[f"U-{C21}"]]),
        make_role("c", perms, DataScope.GRIDS),
        make_role("d", perms, DataScope.UNIT),
    ]
    world.users["gw11"].roles.add(*roles)
    actor = User.objects.get(username="gw11")  # unit not loaded: the second query fetches its path too
    with django_assert_max_num_queries(2):
        querysets = [model.objects.restrict(actor, "view") for model in MODELS.values()]
        assert actor.has_perm("registry.view_resident")
        assert not actor.has_perm("registry.change_resident")
    assert {r.path for r in querysets[0]} == {C11, G111, G112, C21, G211, G212}
    # request.user comes with its unit (RoleBackend.get_user): still at most 2
    from fengqiao.accounts.backends import RoleBackend

    fresh = RoleBackend().get_user(actor.pk)
    with django_assert_max_num_queries(2):
        [model.objects.restrict(fresh, "view") for model in MODELS.values()]


def test_role_only_scopes_need_one_query(world: World, django_assert_num_queries: Any) -> None:
    actor = grant(world.users["s1"], make_role("all", list(MODEL_PERMS.values()), DataScope.ALL))
    with django_assert_num_queries(1):
        for model in MODELS.values():
            model.objects.restrict(actor, "view")


def test_anonymous_and_superuser_need_no_query(world: World, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        for model in MODELS.values():
            model.objects.restrict(AnonymousUser(), "view")
            model.objects.restrict(world.users["root"], "view")
