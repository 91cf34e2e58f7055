from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fengqiao.audit.models import AuditEvent
from fengqiao.audit.tests.factories import make_user
from fengqiao.system import services
from fengqiao.system.models import Dictionary, DictionaryItem, Parameter, ParameterType
from fengqiao.system.selectors import (
    dictionary_choices,
    dictionary_items,
    dictionary_label,
    dictionary_list,
    get_parameter,
    parameter_list,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_user(username="sysadmin")


# --- typed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value_type", "raw", "expected"),
    [
        ("integer", "10", 10),
        ("integer", " -3 ", -3),
        ("integer", "1,000", 1000),
        ("integer", 7, 7),
        ("decimal", "0.75", "0.75"),
        ("decimal", "12", "12"),
        ("boolean", "true", True),
        ("boolean", "否", False),
        ("boolean", "1", True),
        ("boolean", False, False),
        ("json", "[0.5, 0.8]", [0.5, 0.8]),
        ("json", '{"a": "中"}', {"a": "中"}),
        ("json", [1, 2], [1, 2]),
        ("string", "  text  ", "text"),
        ("string", "", ""),
    ],
)
def test_parse_value_accepts(value_type: str, raw: object, expected: object) -> None:
    assert services.parse_value(value_type, raw) == expected


@pytest.mark.parametrize(
    ("value_type", "raw", "fragment"),
    [
        ("integer", "10.5", "whole number"),
        ("integer", "ten", "whole number"),
        ("integer", "", "whole number"),
        ("integer", True, "yes/no"),
        ("decimal", "abc", "not a number"),
        ("decimal", "NaN", "not a number"),
        ("decimal", "Infinity", "not a number"),
        ("boolean", "maybe", "yes or no"),
        ("json", "[0.5, 0.8", "not valid JSON"),
        ("json", "NaN", "not valid JSON"),
        ("json", "", "Enter a JSON value"),
        ("string", "x" * 2001, "too long"),
        ("string", 5, "Enter text"),
        ("colour", "red", "Unknown parameter type"),
    ],
)
def test_parse_value_rejects_with_a_clear_message(value_type: str, raw: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.parse_value(value_type, raw)
    assert fragment in " ".join(excinfo.value.messages)


# --- parameters ---------------------------------------------------------------------------------


def test_create_update_delete_parameter_is_audited_and_cached(admin) -> None:
    p = services.create_parameter(
        actor=admin, key="case.reminder_days", name="Reminder days", value_type="integer", value="3"
    )
    assert p.value == 3
    assert get_parameter("case.reminder_days") == 3
    with CaptureQueriesContext(connection) as ctx:
        assert get_parameter("case.reminder_days") == 3
    assert len(ctx.captured_queries) == 0  # cached
    services.update_parameter(p, actor=admin, value="5")
    assert get_parameter("case.reminder_days") == 5  # invalidated
    services.delete_parameter(p, actor=admin)
    assert get_parameter("case.reminder_days", "fallback") == "fallback"
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["system.parameter.create", "system.parameter.update", "system.parameter.delete"]
    update = AuditEvent.objects.get(action="system.parameter.update")
    assert update.before == {"value": 3} and update.after == {"value": 5}
    assert update.actor_id == admin.pk


def test_missing_parameter_is_cached_until_created(admin) -> None:
    assert get_parameter("x.y", 1) == 1
    services.create_parameter(actor=admin, key="x.y", name="X", value_type="boolean", value="true")
    assert get_parameter("x.y", 1) is True


def test_decimal_parameter_comes_back_as_decimal(admin) -> None:
    services.create_parameter(actor=admin, key="score.threshold", name="T", value_type="decimal", value="0.75")
    value = get_parameter("score.threshold")
    assert value == Decimal("0.75") and isinstance(value, Decimal)


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"key": ""}, "key", "required"),
        ({"key": "NoDots"}, "key", "dotted"),
        ({"key": "a b.c"}, "key", "dotted"),
        ({"name": ""}, "name", "required"),
        ({"name": "n" * 101}, "name", "At most 100"),
        ({"value_type": "colour"}, "value_type", "Choose"),
        ({"value": "ten"}, "value", "whole number"),
    ],
)
def test_bad_parameter_stores_nothing(admin, fields: dict[str, str], field: str, fragment: str) -> None:
    data = {"key": "a.b", "name": "A", "value_type": "integer", "value": "1", **fields}
    with pytest.raises(ValidationError) as excinfo:
        services.create_parameter(actor=admin, **data)
    assert fragment in " ".join(excinfo.value.message_dict[field])
    assert not Parameter.objects.exists()
    assert not AuditEvent.objects.exists()


def test_duplicate_key_is_refused(admin) -> None:
    services.create_parameter(actor=admin, key="a.b", name="A", value_type="string", value="x")
    with pytest.raises(ValidationError) as excinfo:
        services.create_parameter(actor=admin, key="a.b", name="B", value_type="string", value="y")
    assert "already exists" in excinfo.value.message_dict["key"][0]


def test_bad_update_keeps_the_old_value(admin) -> None:
    services.ensure_default_parameters(actor=admin)
    p = Parameter.objects.get(key="intake.max_photo_mb")
    assert get_parameter("intake.max_photo_mb") == 10
    for bad in ("abc", "0", "1000", "2.5"):
        with pytest.raises(ValidationError):
            services.update_parameter(p, actor=admin, value=bad)
    with pytest.raises(ValidationError):
        services.update_parameter(p, actor=admin, value="20", name="")
    p.refresh_from_db()
    assert p.value == 10 and get_parameter("intake.max_photo_mb") == 10
    assert not AuditEvent.objects.filter(action="system.parameter.update").exists()


@pytest.mark.parametrize("bad", ["[0.8, 0.5]", "[0, 0.5]", "[1.2]", "[]", '{"a": 1}', '["half"]', "[0.5, 0.5]"])
def test_reminder_fractions_rule(admin, bad: str) -> None:
    services.ensure_default_parameters()
    p = Parameter.objects.get(key="case.reminder_fractions")
    with pytest.raises(ValidationError) as excinfo:
        services.update_parameter(p, actor=admin, value=bad)
    assert excinfo.value.message_dict["value"]
    services.update_parameter(p, actor=admin, value="[0.3, 0.6, 0.9]")
    assert get_parameter("case.reminder_fractions") == [0.3, 0.6, 0.9]


def test_ensure_default_parameters_is_idempotent_and_keeps_edits(admin) -> None:
    created = services.ensure_default_parameters()
    keys = {p.key for p in created}
    assert {"intake.max_photo_mb", "case.reminder_fractions", "platform.district_name"} <= keys
    assert get_parameter("case.reminder_fractions") == [0.5, 0.8]
    services.update_parameter(Parameter.objects.get(key="intake.max_photo_mb"), actor=admin, value="20")
    assert services.ensure_default_parameters() == []
    assert get_parameter("intake.max_photo_mb") == 20


def test_update_without_change_records_nothing(admin) -> None:
    p = services.create_parameter(actor=admin, key="a.b", name="A", value_type="string", value="x")
    services.update_parameter(p, actor=admin, value="x")
    assert not AuditEvent.objects.filter(action="system.parameter.update").exists()


# --- dictionaries --------------------------------------------------------------------------------


def test_dictionary_lifecycle(admin) -> None:
    d = services.create_dictionary(actor=admin, code="case_type", name="Case type")
    services.create_item(d, actor=admin, value="dispute", label="矛盾纠纷", label_en="Dispute", sort_order=20)
    services.create_item(d, actor=admin, value="safety", label="安全隐患", sort_order="10")
    assert [e.value for e in dictionary_items("case_type")] == ["safety", "dispute"]
    item = DictionaryItem.objects.get(value="safety")
    services.update_item(item, actor=admin, label="安全隐患排查", sort_order=30, is_active=False)
    assert [e.value for e in dictionary_items("case_type")] == ["dispute"]  # invalidated, inactive hidden
    assert [e.value for e in dictionary_items("case_type", include_inactive=True)] == ["dispute", "safety"]
    assert dictionary_choices("case_type") == [("dispute", "Dispute")]  # English is active in tests
    assert dictionary_label("case_type", "safety") == "安全隐患排查"
    assert dictionary_label("case_type", "unknown") == "unknown"
    services.update_dictionary(d, actor=admin, name="Case types", description="Kinds of case")
    services.delete_item(DictionaryItem.objects.get(value="dispute"), actor=admin)
    assert dictionary_items("case_type", include_inactive=True)[0].value == "safety"
    services.delete_dictionary(d, actor=admin)
    assert dictionary_items("case_type") == []
    assert not DictionaryItem.objects.exists()
    delete = AuditEvent.objects.get(action="system.dictionary.delete")
    assert delete.detail is not None and delete.detail["items"][0]["value"] == "safety"
    assert AuditEvent.objects.filter(action__startswith="system.dictionary").count() == 7


def test_english_label_when_english_is_active(admin) -> None:
    from django.utils import translation

    d = services.create_dictionary(actor=admin, code="yes_no", name="Yes/no")
    services.create_item(d, actor=admin, value="y", label="是", label_en="Yes")
    services.create_item(d, actor=admin, value="n", label="否")
    with translation.override("en"):
        assert dictionary_choices("yes_no") == [("n", "否"), ("y", "Yes")]
    with translation.override("zh-hans"):
        assert dictionary_choices("yes_no") == [("n", "否"), ("y", "是")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"code": ""}, "code"), ({"code": "Bad Code"}, "code"), ({"code": "1abc"}, "code"), ({"name": ""}, "name")],
)
def test_bad_dictionary_stores_nothing(admin, fields: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.create_dictionary(actor=admin, **{"code": "ok", "name": "OK", **fields})
    assert field in excinfo.value.message_dict
    assert not Dictionary.objects.exists() and not AuditEvent.objects.exists()


def test_duplicate_dictionary_and_item(admin) -> None:
    d = services.create_dictionary(actor=admin, code="dup", name="Dup")
    with pytest.raises(ValidationError) as excinfo:
        services.create_dictionary(actor=admin, code="dup", name="Again")
    assert "already exists" in excinfo.value.message_dict["code"][0]
    services.create_item(d, actor=admin, value="a", label="A")
    with pytest.raises(ValidationError) as excinfo:
        services.create_item(d, actor=admin, value="a", label="A again")
    assert "already has" in excinfo.value.message_dict["value"][0]
    assert d.items.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"value": ""}, "value"),
        ({"value": "has space"}, "value"),
        ({"value": "v" * 51}, "value"),
        ({"label": ""}, "label"),
        ({"sort_order": "first"}, "sort_order"),
        ({"sort_order": "99999999"}, "sort_order"),
    ],
)
def test_bad_item_stores_nothing(admin, fields: dict[str, Any], field: str) -> None:
    d = services.create_dictionary(actor=admin, code="d", name="D")
    with pytest.raises(ValidationError) as excinfo:
        services.create_item(d, actor=admin, **{"value": "ok", "label": "OK", **fields})
    assert field in excinfo.value.message_dict
    assert not d.items.exists()


def test_ensure_dictionary_is_idempotent(admin) -> None:
    items = [("a", "甲", "A"), ("b", "乙")]
    d = services.ensure_dictionary("letters", "Letters", items)
    item = d.items.get(value="a")
    services.update_item(item, actor=admin, label="甲（改）", label_en="A", sort_order=5)
    services.ensure_dictionary("letters", "Letters", [*items, ("c", "丙")])
    assert [(e.value, e.label) for e in dictionary_items("letters")] == [("a", "甲（改）"), ("b", "乙"), ("c", "丙")]


def test_list_selectors(admin) -> None:
    services.ensure_default_parameters()
    viewer = make_user(["system.view_parameter", "system.view_dictionary"])
    assert [p.key for p in parameter_list(viewer, q="photo_mb")] == ["intake.max_photo_mb"]
    assert {p.key for p in parameter_list(viewer, value_type=ParameterType.JSON)} == {
        "case.reminder_fractions",
        "case.deadline_days",
    }
    d = services.create_dictionary(actor=admin, code="case_type", name="Case type")
    services.create_item(d, actor=admin, value="dispute", label="矛盾纠纷")
    services.create_item(d, actor=admin, value="safety", label="安全隐患")
    services.create_dictionary(actor=admin, code="other", name="Other")
    rows = list(dictionary_list(viewer, q="纠纷"))
    assert [r.code for r in rows] == ["case_type"]
    assert getattr(rows[0], "item_count", None) == 2
    assert len(dictionary_list(viewer)) == 2


def test_list_selectors_deny_by_default(admin) -> None:
    """The lists (and their exports) are read through restrict: a shared scope, but nothing without the permission."""
    services.ensure_default_parameters()
    services.create_dictionary(actor=admin, code="case_type", name="Case type")
    dictionaries_only = make_user(["system.view_dictionary"], scope="unit")  # any scope sees every dictionary
    assert parameter_list(dictionaries_only).count() == 0
    assert [d.code for d in dictionary_list(dictionaries_only)] == ["case_type"]
    parameters_only = make_user(["system.view_parameter"], scope="self")
    assert parameter_list(parameters_only).count() == len(services.DEFAULT_PARAMETERS)
    assert dictionary_list(parameters_only).count() == 0
