"""XML and JSON for the Open311 endpoints (writing only: no untrusted XML is ever parsed here).

Values: datetimes as ISO 8601 with the local offset (``2026-11-23T11:46:11+08:00``,
Asia/Shanghai), booleans as ``true``/``false``, missing values as JSON ``null`` and
empty XML elements. Lists become repeated child elements named by ``ITEM_NAMES``.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from django.http import HttpResponse
from django.utils import timezone

#: list element → the name of each item in XML
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "notes": "note",
    "endpoints": "endpoint",
    "formats": "format",
}

CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}


def iso(value: datetime.datetime) -> str:
    """In the server's zone (``TIME_ZONE``, Asia/Shanghai), whatever zone the request activated."""
    zone = timezone.get_default_timezone()
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(zone).isoformat(timespec="seconds")


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return iso(value)
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return iso(value)
    return str(value)  # lazy translations


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default).encode()


#: characters XML 1.0 cannot carry at all (a resident's text may contain them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    value = _scalar(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        item = ITEM_NAMES.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def response(fmt: str, root: str, data: Any, status: int = 200) -> HttpResponse:
    """``root`` names the XML root element (``service_requests``, ``services``…); JSON is ``data`` itself."""
    body = to_xml(root, data) if fmt == "xml" else to_json(data)
    result = HttpResponse(body, status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES["xml"]))
    result["Cache-Control"] = "no-store"
    return result


def errors(fmt: str, status: int, *descriptions: str) -> HttpResponse:
    return response(fmt, "errors", [{"code": status, "description": d} for d in descriptions], status=status)
