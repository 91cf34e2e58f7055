from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from fengqiao.accounts import roles as roles_module
from fengqiao.accounts.models import Role
from fengqiao.accounts.roles import BUILTIN_ROLES, BuiltinRole, available_permissions, sync_builtin_roles
from fengqiao.audit.models import AuditEvent
from fengqiao.core.scope import DataScope

pytestmark = pytest.mark.django_db

CODES = {
    "admin": DataScope.ALL,
    "auditor": DataScope.ALL,
    "district_leader": DataScope.ALL,
    "district_centre": DataScope.UNIT_AND_BELOW,
    "street_centre": DataScope.UNIT_AND_BELOW,
    "street_leader": DataScope.UNIT_AND_BELOW,
    "community_centre": DataScope.UNIT_AND_BELOW,
    "grid_worker": DataScope.GRIDS,
    "community_police": DataScope.GRIDS,
    "department_handler": DataScope.UNIT,
    "command_room": DataScope.UNIT_AND_BELOW,
    "risk_analyst": DataScope.UNIT_AND_BELOW,
    "judge": DataScope.UNIT,
}


def perms_of(role: Role) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")}


def test_codes_and_scopes_follow_the_contract() -> None:
    assert {r.code: r.data_scope for r in BUILTIN_ROLES} == CODES
    roles = sync_builtin_roles()
    assert set(roles) == set(CODES)
    for code, role in roles.items():
        assert role.is_builtin
        assert role.data_scope == CODES[code]
        assert role.name  # stored in the default language
    assert Role.objects.get(code="grid_worker").name == "网格员"


def test_admin_has_every_permission_and_auditor_views_and_exports() -> None:
    roles = sync_builtin_roles()
    every = set(available_permissions())
    assert perms_of(roles["admin"]) == every
    auditor = perms_of(roles["auditor"])
    assert "audit.export_auditevent" in auditor
    assert {p for p in every if ".view_" in p} <= auditor
    assert all(".view_" in p or p == "audit.export_auditevent" for p in auditor)


def test_reveal_and_export_go_only_to_the_listed_roles() -> None:
    roles = sync_builtin_roles()
    reveal = {code for code, role in roles.items() if "registry.reveal_resident" in perms_of(role)}
    assert reveal == {"community_centre", "grid_worker", "community_police", "admin"}
    export = {code for code, role in roles.items() if "audit.export_auditevent" in perms_of(role)}
    assert export == {"auditor", "admin"}


def test_view_only_roles_change_nothing() -> None:
    roles = sync_builtin_roles()
    for code in ("auditor", "district_leader"):
        assert all(".view_" in p or p.endswith("export_auditevent") for p in perms_of(roles[code])), code
    # the street's principal leader views, and approves escalations to the district (and supervises cases)
    acts = {p for p in perms_of(roles["street_leader"]) if ".view_" not in p}
    assert acts == {"cases.approve_escalation_case", "cases.supervise_case"}


def test_sync_is_idempotent_and_keeps_hand_edits() -> None:
    sync_builtin_roles()
    events = AuditEvent.objects.count()
    sync_builtin_roles()
    assert AuditEvent.objects.count() == events  # nothing changed, nothing recorded
    judge = Role.objects.get(code="judge")
    extra = available_permissions()["registry.view_household"]
    judge.permissions.add(extra)
    view_unit = available_permissions()["units.view_unit"]
    judge.permissions.remove(view_unit)
    sync_builtin_roles()
    assert "registry.view_household" in perms_of(judge)  # an administrator's addition stays
    assert "units.view_unit" not in perms_of(judge)  # and so does a removal
    sync_builtin_roles(reset=True)
    assert perms_of(judge) == {"regions.view_region", "units.view_unit"}


def test_permissions_added_to_roles_py_reach_existing_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    sync_builtin_roles()
    changed = tuple(
        BuiltinRole(r.code, r.name, r.data_scope, (*r.permissions, "system.view_parameter"), r.description)
        if r.code == "judge"
        else r
        for r in BUILTIN_ROLES
    )
    monkeypatch.setattr(roles_module, "BUILTIN_ROLES", changed)
    sync_builtin_roles()
    assert "system.view_parameter" in perms_of(Role.objects.get(code="judge"))
    event = AuditEvent.objects.filter(action="accounts.role.sync").first()
    assert event is not None and (event.detail or {})["added"] == ["system.view_parameter"]


def test_unknown_permission_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = (*BUILTIN_ROLES, BuiltinRole("x", "x", DataScope.ALL, ("registry.fly_resident",)))  # type: ignore[arg-type]
    monkeypatch.setattr(roles_module, "BUILTIN_ROLES", bad)
    with pytest.raises(ImproperlyConfigured, match=r"registry\.fly_resident"):
        sync_builtin_roles()
    assert not Role.objects.exists()  # all or nothing


def test_sync_roles_command() -> None:
    out = StringIO()
    call_command("sync_roles", stdout=out)
    assert "13" in out.getvalue()
    assert Role.objects.filter(is_builtin=True).count() == 13
    event = AuditEvent.objects.filter(action="accounts.role.sync").first()
    assert event is not None and event.source == "command"


def test_builtin_role_name_is_translated_for_display() -> None:
    from django.utils import translation

    role = sync_builtin_roles()["grid_worker"]
    with translation.override("en"):
        assert str(role) == "Grid worker"
    with translation.override("zh-hans"):
        assert str(role) == "网格员"
