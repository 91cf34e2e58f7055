"""Every audit action written anywhere in Fengqiao has a readable name on the log pages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from fengqiao.audit.labels import action_codes, action_label, actions_matching, has_action_label, operator_label

ROOT = Path(__file__).resolve().parents[2]  # the fengqiao package

#: functions whose first argument is an action code
RECORDERS = {"record", "_record"}

#: codes built at run time (an f-string), by file: the codes that can come out of it (optional, checked when listed)
DYNAMIC_CODES = {
    "registry/services.py": ["registry.household.export", "registry.resident.export"],
}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _records_its_action(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(n, ast.Call)
        and _name(n.func) in RECORDERS
        and n.args
        and isinstance(n.args[0], ast.Name)
        and n.args[0].id == "action"
        for n in ast.walk(func)
    )


def _shape(expression: ast.JoinedStr) -> re.Pattern[str]:
    """f"{model._meta.label_lower}.export" → ``[a-z0-9_.]+\\.export``: what codes it can produce."""
    parts = [
        re.escape(v.value) if isinstance(v, ast.Constant) and isinstance(v.value, str) else "[a-z0-9_.]+"
        for v in expression.values
    ]
    return re.compile("".join(parts))


def _scan() -> tuple[dict[str, str], dict[str, tuple[str, re.Pattern[str]]]]:
    """(literal code → where, dynamic code expression → where) of every action written in non-test code."""
    literal: dict[str, str] = {}
    dynamic: dict[str, tuple[str, re.Pattern[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "/tests/" in f"/{rel}" or "/migrations/" in f"/{rel}":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in RECORDERS and node.args:
                first = node.args[0]
                where = f"{rel}:{node.lineno}"
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    literal[first.value] = where
                elif isinstance(first, ast.JoinedStr):
                    dynamic[ast.unparse(first)] = (where, _shape(first))
            # a function passing its parameter ``action`` to record(), with a default code (core.personal.reveal_field)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _records_its_action(node):
                args = node.args
                positional = args.posonlyargs + args.args
                pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
                for arg, default in pairs:
                    if arg.arg == "action" and isinstance(default, ast.Constant) and isinstance(default.value, str):
                        literal[default.value] = f"{rel}:{node.lineno}"
    return literal, dynamic


def test_every_action_code_in_the_code_base_has_a_label() -> None:
    literal, dynamic = _scan()
    # the scan works: it finds the codes of every domain app
    assert len(literal) > 40
    for known in ("auth.login", "registry.resident.update", "grid_assignment.create", "pii.reveal", "demo.load"):
        assert known in literal
    missing = {code: where for code, where in literal.items() if not has_action_label(code)}
    assert not missing, f"audit actions without a label (register_action_labels in the app's ready()): {missing}"

    # a code built at run time (f"cases.{action}"): its listed expansions all have labels, or at
    # least one labelled code has its shape (the demo test checks the codes a used district writes)
    labelled = action_codes()
    for expression, (where, pattern) in dynamic.items():
        file = where.rsplit(":", 1)[0]
        if file in DYNAMIC_CODES:
            for code in DYNAMIC_CODES[file]:
                assert has_action_label(code) and pattern.fullmatch(code), (where, code)
        else:
            assert any(pattern.fullmatch(code) for code in labelled), f"{where}: no label for codes like {expression}"


def test_labels_are_translated() -> None:
    with translation.override("zh-hans"):
        assert action_label("grid_assignment.create") == "分配网格职责"
        assert action_label("registry.resident.update") == "修改居民"
        assert action_label("no.such.action") == "no.such.action"
    with translation.override("en"):
        assert action_label("registry.resident.update") == "Changed a resident"


def test_action_filter_matches_labels_in_the_active_language() -> None:
    with translation.override("zh-hans"):
        assert "registry.resident.update" in actions_matching("修改居民")
        assert actions_matching("  ") == []
    with translation.override("en"):
        assert "unit.deactivate" in actions_matching("deactivated a UNIT")


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [("张三", "web", "张三"), ("", "command", "System (Command line)"), ("", "task", "System (Background task)")],
)
def test_operator_label(name: str, source: str, expected: str) -> None:
    assert operator_label(name, source) == expected
