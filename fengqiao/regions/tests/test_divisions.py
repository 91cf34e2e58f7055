from __future__ import annotations

import datetime
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fengqiao.audit.models import AuditEvent
from fengqiao.regions.divisions import default_path
from fengqiao.regions.models import Level, Region

from .factories import ancestors

pytestmark = pytest.mark.django_db

HEADER = "代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n"
SAMPLE = HEADER + (
    "440000,广东省,,广东省,省级,在用,1981,,\n"
    "440300,广东省,深圳市,深圳市,地级,在用,1981,,\n"
    "440301,广东省,深圳市,市辖区,县级,弃用,1981,1990,440303;440304\n"
    "440305,广东省,深圳市,南山区,县级,在用,1990,,\n"
    "441900,广东省,东莞市,东莞市,地级,在用,1988,,\n"
    "110000,北京市,,北京市,省级,在用,1981,,\n"
    "110101,北京市,直辖,东城区,县级,在用,1981,,\n"
    "110103,北京市,直辖,崇文区,县级,弃用,1981,2010,110101\n"
    "120000,天津市,,天津市,省级,在用,1981,,\n"
    "120110,天津市,直辖,东丽区,县级,在用,1992,,\n"
    "120110,天津市,直辖,东郊区,县级,变更,1981,1992,120110\n"
    "460000,海南省,,海南省,省级,在用,1988,,\n"
    "460001,海南省,直辖,通什市,县级,弃用,1988,2001,469001\n"
)


def write(tmp_path: Path, text: str, name: str = "divisions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_divisions", *args, stdout=out)
    return out.getvalue()


def test_import_small_file(tmp_path):
    path = write(tmp_path, SAMPLE)
    output = run("--path", str(path))
    assert "13 read, 13 created" in output
    assert Region.objects.count() == 13

    nanshan = Region.objects.get(code="440305000000")
    assert nanshan.level == Level.COUNTY
    assert nanshan.path == "440305"
    assert nanshan.valid_from == datetime.date(1990, 1, 1)
    assert nanshan.valid_to is None
    assert ancestors(nanshan) == ["440300000000", "440000000000"]
    assert nanshan.parent is not None and nanshan.parent.path == "4403"
    assert nanshan.parent.parent is not None and nanshan.parent.parent.path == "44"

    # abolished with successors
    chongwen = Region.objects.get(code="110103000000")
    assert chongwen.valid_to == datetime.date(2010, 1, 1)
    assert chongwen.successor_codes == "110101"
    assert not Region.objects.current().filter(pk=chongwen.pk).exists()
    assert Region.objects.current(datetime.date(2009, 6, 1)).filter(pk=chongwen.pk).exists()

    # directly administered counties attach to the province
    assert ancestors(Region.objects.get(code="110101000000")) == ["110000000000"]
    assert ancestors(Region.objects.get(code="460001000000")) == ["460000000000"]

    # a reused code: two periods, one current
    periods = Region.objects.filter(code="120110000000").order_by("valid_from")
    assert [(p.name, p.valid_to) for p in periods] == [("东郊区", datetime.date(1992, 1, 1)), ("东丽区", None)]
    assert AuditEvent.objects.filter(action="region.import_divisions").count() == 1


def test_import_is_idempotent_and_updates(tmp_path):
    path = write(tmp_path, SAMPLE)
    run("--path", str(path))
    ids = sorted(Region.objects.values_list("pk", flat=True))
    output = run("--path", str(path))
    assert "0 created, 0 updated, 13 unchanged, 0 parent links set" in output
    assert sorted(Region.objects.values_list("pk", flat=True)) == ids

    # the county is later abolished, with a successor
    changed = SAMPLE.replace(
        "440305,广东省,深圳市,南山区,县级,在用,1990,,", "440305,广东省,深圳市,南山区,县级,弃用,1990,2030,440399"
    )
    run("--path", str(write(tmp_path, changed, "v2.csv")))
    nanshan = Region.objects.get(code="440305000000")
    assert nanshan.valid_to == datetime.date(2030, 1, 1)
    assert nanshan.successor_codes == "440399"
    assert Region.objects.count() == 13


def test_only_current(tmp_path):
    output = run("--path", str(write(tmp_path, SAMPLE)), "--only-current")
    assert "9 read, 9 created" in output
    assert not Region.objects.filter(valid_to__isnull=False).exists()
    assert Region.objects.get(code="120110000000").name == "东丽区"


def test_missing_file_skips_cleanly(tmp_path):
    output = run("--path", str(tmp_path / "absent.csv"))
    assert "not found" in output
    assert Region.objects.count() == 0


def test_wrong_columns_is_a_clear_error(tmp_path):
    path = write(tmp_path, "code,name\n440000,广东省\n")
    with pytest.raises(CommandError, match="missing column"):
        run("--path", str(path))
    assert Region.objects.count() == 0


def test_bad_lines_are_skipped_and_reported(tmp_path):
    text = HEADER + "440000,广东省,,广东省,省级,在用,1981,,\n44ABCD,广东省,,坏,县级,在用,1981,,\n"
    output = run("--path", str(write(tmp_path, text)))
    assert "line 3" in output
    assert Region.objects.count() == 1


@pytest.mark.skipif(not default_path().is_file(), reason="shared/external-data/divisions is absent")
def test_real_file():
    started = time.monotonic()
    output = run()
    elapsed = time.monotonic() - started
    assert "0 without a parent" in output
    current = Region.objects.current()
    assert current.filter(level=Level.PROVINCE).count() == 34
    assert current.count() > 3000
    assert ancestors(Region.objects.get(code="440305000000"))[0] == "440300000000"
    assert not current.filter(level=Level.COUNTY, parent__isnull=True).exists()
    assert elapsed < 30
    assert "0 created, 0 updated" in run()
