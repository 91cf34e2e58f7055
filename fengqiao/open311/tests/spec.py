"""The field lists of Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), written out
from the specification, and validators for the JSON and XML documents an endpoint returns.

XML is parsed here only in tests, from our own server's output.
"""

from __future__ import annotations

import datetime
import re
from typing import Any
from xml.etree import ElementTree as ET

DISCOVERY_FIELDS = {"changeset", "contact", "key_service", "endpoints"}
ENDPOINT_FIELDS = {"specification", "url", "changeset", "type", "formats"}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
DEFINITION_FIELDS = {"service_code", "attributes"}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
VALUE_FIELDS = {"key", "name"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
SERVICE_TYPES = {"realtime", "batch", "blackbox"}
POST_FIELDS = {"service_request_id", "token", "service_notice", "account_id"}
TOKEN_FIELDS = {"service_request_id", "token"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
REQUEST_DATETIMES = ("requested_datetime", "updated_datetime", "expected_datetime")
ERROR_FIELDS = {"code", "description"}
NOTE_FIELDS = {"datetime", "summary", "agency"}

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def check_datetime(value: str) -> datetime.datetime:
    assert ISO.match(value), value
    parsed = datetime.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    return parsed


def check_request(row: dict[str, Any], *, extensions: bool = False) -> None:
    expected = REQUEST_FIELDS | ({"notes"} if extensions else set())
    assert set(row) == expected, set(row) ^ expected
    assert row["status"] in ("open", "closed")
    assert row["service_request_id"]
    for name in REQUEST_DATETIMES:
        if row[name]:
            check_datetime(row[name])
    check_datetime(row["requested_datetime"])
    if extensions:
        for note in row["notes"]:
            assert set(note) == NOTE_FIELDS
            check_datetime(note["datetime"])


def check_service(row: dict[str, Any]) -> None:
    assert set(row) == SERVICE_FIELDS
    assert row["type"] in SERVICE_TYPES
    assert row["metadata"] in (True, False, "true", "false")


def check_definition(doc: dict[str, Any]) -> None:
    assert set(doc) == DEFINITION_FIELDS
    for attribute in doc["attributes"]:
        assert set(attribute) == ATTRIBUTE_FIELDS
        assert attribute["datatype"] in DATATYPES
        for value in attribute["values"]:
            assert set(value) == VALUE_FIELDS


def check_errors(doc: list[dict[str, Any]], status: int) -> None:
    assert isinstance(doc, list) and doc
    for error in doc:
        assert set(error) == ERROR_FIELDS
        assert int(error["code"]) == status
        assert error["description"]


# --- XML ---------------------------------------------------------------------------------------


def xml_root(content: bytes, root: str) -> ET.Element:
    assert content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = ET.fromstring(content)  # noqa: S314 - our own server's output, in a test
    assert element.tag == root, element.tag
    return element


def xml_fields(element: ET.Element) -> dict[str, ET.Element]:
    return {child.tag: child for child in element}


def check_xml_requests(content: bytes, *, extensions: bool = False) -> list[ET.Element]:
    root = xml_root(content, "service_requests")
    requests = list(root)
    expected = REQUEST_FIELDS | ({"notes"} if extensions else set())
    for request in requests:
        assert request.tag == "request"
        fields = xml_fields(request)
        assert set(fields) == expected, set(fields) ^ expected
        assert fields["status"].text in ("open", "closed")
        for name in REQUEST_DATETIMES:
            text = fields[name].text
            if text:
                check_datetime(text)
        if extensions:
            for note in fields["notes"]:
                assert note.tag == "note"
                assert set(xml_fields(note)) == NOTE_FIELDS
    return requests


def check_xml_errors(content: bytes, status: int) -> None:
    root = xml_root(content, "errors")
    assert len(root)
    for error in root:
        assert error.tag == "error"
        fields = xml_fields(error)
        assert set(fields) == ERROR_FIELDS
        assert fields["code"].text == str(status)
        assert fields["description"].text
