"""Every app's Chinese catalogue is complete and its compiled .mo is current."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

PACKAGE = Path(settings.BASE_DIR) / "fengqiao"
CATALOGUES = sorted(PACKAGE.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))
ENTRY = re.compile(r'^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)msgstr ((?:"(?:[^"\\]|\\.)*"\n?)+)', re.M)


def _join(quoted: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', quoted))


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    text = po.read_text(encoding="utf-8")
    result = []
    for block in text.split("\n\n"):
        fuzzy = "#, fuzzy" in block or re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        for m in ENTRY.finditer(block):
            msgid, msgstr = _join(m.group(1)), _join(m.group(2))
            if msgid:
                result.append((msgid, msgstr, fuzzy))
        for m in re.finditer(r"^msgid_plural .*\n((?:msgstr\[\d\] .*\n?)+)", block, re.M):
            if '""' in m.group(1).split("\n")[0]:
                result.append(("<plural>", "", fuzzy))
    return result


def test_there_are_catalogues():
    assert len(CATALOGUES) >= 5


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-5])
def test_catalogue_is_complete(po: Path):
    missing = [msgid for msgid, msgstr, fuzzy in _entries(po) if not msgstr or fuzzy]
    assert not missing, f"{po}: untranslated or fuzzy: {missing[:10]}"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-5])
def test_compiled_catalogue_is_current(po: Path):
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} missing: run `make messages`"
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    catalog = compiled._catalog  # type: ignore[attr-defined]
    for msgid, _msgstr, _fuzzy in _entries(po):
        if msgid == "<plural>" or "\\" in msgid:
            continue
        key = (
            msgid
            if msgid in catalog
            else next((k for k in catalog if isinstance(k, str) and k.endswith("\x04" + msgid)), None)
        )
        assert key is not None, f"{mo} is stale: {msgid!r} missing, run `make messages`"


def test_chinese_is_the_default_and_english_is_available(db):
    client = Client()
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "登录" in body
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=True)
    assert 'lang="en"' in response.content.decode()
    assert "Log in" in response.content.decode()
    with translation.override("zh-hans"):
        assert translation.gettext("Overview") == "概览"
