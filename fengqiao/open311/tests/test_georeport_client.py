"""The endpoints driven by an independent Open311 client from PyPI: ``georeport`` 0.3.1
(https://pypi.org/project/georeport/), over real HTTP against pytest-django's ``live_server``.

georeport 0.3.1 implements the four read methods (``get_service_list``,
``get_service_definition``, ``get_service_requests``, ``get_service_request``)
in JSON and XML (it parses XML with xmltodict). It has no method for
``discovery``, ``POST requests`` or ``tokens/{token}``: those are driven here
with ``requests`` (the HTTP library georeport itself uses) as raw HTTP, and in
``test_endpoints.py`` through Django's test client.
"""

from __future__ import annotations

import pytest
import requests
from georeport import GeoReport

from fengqiao.cases.models import Case
from fengqiao.intake.tests.factories import place
from fengqiao.open311 import services

from . import spec
from .conftest import LAT, LNG


@pytest.fixture
def server(live_server, transactional_db):
    place()
    _client, key = services.issue_key(name="georeport", requests_per_minute=0, actor=None)
    return live_server.url + "/open311/v2", key


def _as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_what_it_posted(server, fmt):
    root, key = server
    client = GeoReport(root, api_key=key, output_format=fmt)
    # discovery, POST requests and tokens: georeport has no method for them → the same HTTP library
    discovery = requests.get(f"{root}/discovery.json", timeout=10)
    assert discovery.status_code == 200 and discovery.json()["endpoints"][0]["url"] == root
    posted = requests.post(
        f"{root}/requests.json",
        data={
            "api_key": key,
            "service_code": "neighbour",
            "lat": LAT,
            "long": LNG,
            "description": "楼上漏水到我家",
            "attribute[issue]": "leak",
        },
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    number = posted.json()[0]["service_request_id"]
    token = str(Case.objects.get(number=number).idempotency_key).removeprefix("open311:")
    assert requests.get(f"{root}/tokens/{token}.json", timeout=10).json()[0]["service_request_id"] == number

    # the four read methods georeport has
    services_ = _as_list(client.get_service_list())
    assert "neighbour" in {s["service_code"] for s in services_}
    for service in services_:
        assert set(service) == spec.SERVICE_FIELDS

    definition = client.get_service_definition("neighbour")
    assert definition["service_code"] == "neighbour"
    attributes = definition["attributes"]
    attribute = attributes[0] if fmt == "json" else attributes["attribute"]
    assert attribute["code"] == "issue"
    assert set(attribute) == spec.ATTRIBUTE_FIELDS

    listed = _as_list(client.get_service_requests(service_code="neighbour", status="open"))
    assert [r["service_request_id"] for r in listed] == [number]
    assert set(listed[0]) == spec.REQUEST_FIELDS
    spec.check_datetime(listed[0]["requested_datetime"])
    # a second request: the list comes back as a list in XML too (xmltodict repeats <request>)
    second = requests.post(
        f"{root}/requests.json",
        data={"api_key": key, "service_code": "environment", "address_id": "440399001001", "description": "垃圾"},
        timeout=10,
    ).json()[0]["service_request_id"]
    both = client.get_service_requests(service_request_id=f"{number},{second}")
    assert isinstance(both, list) and {r["service_request_id"] for r in both} == {number, second}
    for row in both:
        assert set(row) == spec.REQUEST_FIELDS

    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    assert set(one) == spec.REQUEST_FIELDS


def test_georeport_sees_errors_as_http_errors(server):
    root, _key = server
    client = GeoReport(root)
    with pytest.raises(requests.HTTPError) as caught:
        client.get_service_definition("no-such-service")
    response = caught.value.response
    assert response is not None and response.status_code == 404
    with pytest.raises(requests.HTTPError) as caught:
        client.get_service_requests(start_date="2026-01-01T00:00:00Z", end_date="2026-06-01T00:00:00Z")
    response = caught.value.response
    assert response is not None and response.status_code == 400
    spec.check_errors(response.json(), 400)
