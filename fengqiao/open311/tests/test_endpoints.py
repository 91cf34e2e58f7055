"""Raw HTTP (Django test client) against every Open311 endpoint, in XML and JSON, validated against
the spec's field lists (``spec.py``)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.cases import services as case_services
from fengqiao.cases.models import Case, CaseEvent, CaseState, Category, Channel
from fengqiao.intake.models import Submission as InboxRow
from fengqiao.open311 import services
from fengqiao.open311.models import ApiClient, PostedRequest

from . import spec
from .conftest import LAT, LNG

BASE = "/open311/v2"
pytestmark = pytest.mark.django_db


def get(path, fmt="json", **params):
    return Client().get(f"{BASE}/{path}.{fmt}", params)


def post(data, fmt="json"):
    return Client().post(f"{BASE}/requests.{fmt}", data)


def new_case(where, *, code="environment", days_ago=1, description="路灯不亮", **kw):
    case = case_services.submit_case(
        category=Category.objects.get(code=code, district__isnull=True),
        description=description,
        channel=kw.pop("channel", Channel.QR),
        community=where.community,
        received_at=timezone.now() - datetime.timedelta(days=days_ago),
        alert=False,
        **kw,
    )
    return case


# --- discovery and services -----------------------------------------------------------------------


def test_discovery_in_json_and_xml(where):
    doc = get("discovery").json()
    assert set(doc) == spec.DISCOVERY_FIELDS
    (endpoint,) = doc["endpoints"]
    assert set(endpoint) == spec.ENDPOINT_FIELDS
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    spec.check_datetime(doc["changeset"])
    root = spec.xml_root(get("discovery", "xml").content, "discovery")
    fields = spec.xml_fields(root)
    assert set(fields) == spec.DISCOVERY_FIELDS
    formats = [f.text for f in fields["endpoints"][0].findall("formats/format")]
    assert formats == ["text/xml", "application/json"]


def test_services_list_reportable_categories(where):
    response = get("services")
    assert response["Content-Type"].startswith("application/json")
    rows = response.json()
    for row in rows:
        spec.check_service(row)
    codes = {r["service_code"] for r in rows}
    assert {"environment", "neighbour", "hazard"} <= codes
    assert "petition" not in codes  # petitions follow the 信访 procedure, not Open311
    neighbour = next(r for r in rows if r["service_code"] == "neighbour")
    assert neighbour["metadata"] is True and neighbour["service_name"] == "Neighbour dispute"
    root = spec.xml_root(get("services", "xml").content, "services")
    assert len(root) == len(rows)
    for service in root:
        assert service.tag == "service"
        assert set(spec.xml_fields(service)) == spec.SERVICE_FIELDS


def test_district_category_has_a_qualified_code(where):
    Category.objects.create(code="environment", name="本区环境", district=where.county)
    codes = {r["service_code"] for r in get("services").json()}
    assert {"environment", f"{where.county.code}.environment"} <= codes
    doc = get(f"services/{where.county.code}.environment").json()
    assert doc["service_code"] == f"{where.county.code}.environment"


def test_service_definition_maps_extra_fields_to_attributes(where):
    doc = get("services/neighbour").json()
    spec.check_definition(doc)
    (attribute,) = doc["attributes"]
    assert attribute["code"] == "issue" and attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is True and attribute["variable"] is True and attribute["order"] == 1
    assert attribute["description"] == "Kind of dispute"
    assert {"key": "noise", "name": "噪音扰民"} in attribute["values"]
    root = spec.xml_root(get("services/neighbour", "xml").content, "service_definition")
    (attr,) = root.findall("attributes/attribute")
    assert set(spec.xml_fields(attr)) == spec.ATTRIBUTE_FIELDS
    assert attr.findtext("required") == "true"
    assert [v.findtext("key") for v in attr.findall("values/value")][:2] == ["noise", "leak"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_404(where, fmt):
    response = get("services/no-such-thing", fmt)
    assert response.status_code == 404
    if fmt == "json":
        spec.check_errors(response.json(), 404)
    else:
        spec.check_xml_errors(response.content, 404)


def test_unknown_format_is_an_error_not_a_crash(where):
    response = get("services", "csv")
    assert response.status_code == 400
    spec.check_xml_errors(response.content, 400)


# --- POST requests ----------------------------------------------------------------------------------


def test_post_with_lat_long_creates_an_open311_case(where, key):
    response = post(
        {
            "api_key": key,
            "service_code": "environment",
            "lat": LAT,
            "long": LNG,
            "description": "小区门口垃圾堆积三天没人清理",
            "first_name": "敏",
            "last_name": "王",
            "phone": "13800138000",
            "email": "",
            "account_id": "",
            "media_url": "https://example.org/photo.jpg",
        }
    )
    assert response.status_code == 201, response.content
    (row,) = response.json()
    assert set(row) <= spec.POST_FIELDS and "token" not in row
    case = Case.objects.get(number=row["service_request_id"])
    assert case.channel == Channel.OPEN311 and case.grid == where.grids[0]
    assert case.reporter_name_masked and case.reporter_phone_masked
    posted = PostedRequest.objects.get()
    assert posted.case_number == case.number and posted.media_url == "https://example.org/photo.jpg"
    assert AuditEvent.objects.filter(action="open311.request.submit").count() == 1
    # read it back, JSON and XML
    (detail,) = get(f"requests/{case.number}").json()
    spec.check_request(detail)
    assert detail["status"] == "open" and detail["service_code"] == "environment"
    assert detail["agency_responsible"] == where.centre.name
    assert detail["media_url"] == "https://example.org/photo.jpg"
    assert detail["requested_datetime"].endswith("+08:00")
    assert detail["expected_datetime"]
    body = json.dumps(detail, ensure_ascii=False)
    assert "王" not in body and "13800138000" not in body
    (xml_request,) = spec.check_xml_requests(get(f"requests/{case.number}", "xml").content)
    assert xml_request.findtext("service_request_id") == case.number


def test_post_xml_answer(where, key):
    response = post({"api_key": key, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"}, "xml")
    assert response.status_code == 201
    root = spec.xml_root(response.content, "service_requests")
    fields = spec.xml_fields(root[0])
    assert set(fields) <= spec.POST_FIELDS and fields["service_request_id"].text


def test_post_with_address_string(where, key):
    response = post(
        {"api_key": key, "service_code": "environment", "address_string": "枫溪社区 3栋门口", "description": "井盖缺失"}
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()[0]["service_request_id"])
    assert case.community == where.community and case.address == "枫溪社区 3栋门口"


def test_post_with_address_id_of_a_grid(where, key):
    response = post(
        {"api_key": key, "service_code": "environment", "address_id": where.grids[1].code, "description": "路灯坏了"}
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()[0]["service_request_id"])
    assert case.community == where.community


def test_post_attributes_single_and_multi(where, key):
    Category.objects.create(
        code="noise",
        name="噪音",
        extra_fields=[
            {"code": "when", "label": "时段", "datatype": "string", "required": True},
            {
                "code": "sources",
                "label": "来源",
                "datatype": "multivaluelist",
                "values": [
                    {"key": "bar", "name": "酒吧"},
                    {"key": "site", "name": "工地"},
                    {"key": "car", "name": "车辆"},
                ],
            },
        ],
    )
    response = post(
        {
            "api_key": key,
            "service_code": "noise",
            "lat": LAT,
            "long": LNG,
            "description": "夜间施工",
            "attribute[when]": "night",
            "attribute[sources][]": ["bar", "site"],
        }
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()[0]["service_request_id"])
    assert case.extra == {"when": "night", "sources": ["bar", "site"]}
    definition = get("services/noise").json()
    assert [a["datatype"] for a in definition["attributes"]] == ["string", "multivaluelist"]


def test_tokens_resolve_to_the_request(where, key):
    response = post({"api_key": key, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"})
    number = response.json()[0]["service_request_id"]
    token = PostedRequest.objects.get().token
    (row,) = get(f"tokens/{token}").json()
    assert row == {"service_request_id": number, "token": token}
    root = spec.xml_root(get(f"tokens/{token}", "xml").content, "service_requests")
    assert set(spec.xml_fields(root[0])) == spec.TOKEN_FIELDS
    assert get("tokens/unknown-token").status_code == 404


def test_pending_intake_answers_a_token(where, key, monkeypatch):
    """While the intake inbox has not written the case, POST answers a token (never both) and the token
    resolves without an id; once the case exists, with its id."""
    pending = {}

    def later(report):
        pending["report"] = report
        return ""

    monkeypatch.setattr(services, "hand_to_intake", later)
    response = post({"api_key": key, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"})
    assert response.status_code == 201
    (row,) = response.json()
    assert "service_request_id" not in row and row["token"]
    assert get(f"tokens/{row['token']}").json() == [{"service_request_id": None, "token": row["token"]}]
    monkeypatch.undo()
    number = services.hand_to_intake(pending["report"])  # the inbox catches up
    assert get(f"tokens/{row['token']}").json() == [{"service_request_id": number, "token": row["token"]}]
    assert PostedRequest.objects.get().case_number == number


def test_posted_private_kind_is_readable_by_its_client_only(where, key):
    response = post({"api_key": key, "service_code": "family", "lat": LAT, "long": LNG, "description": "家庭矛盾"})
    number = response.json()[0]["service_request_id"]
    assert get(f"requests/{number}").status_code == 404
    assert get(f"requests/{number}", api_key=key).status_code == 200
    _other, other_key = services.issue_key(name="Other", actor=None)
    assert get(f"requests/{number}", api_key=other_key).status_code == 404


# --- bad input: the spec's error and status, never a 500, nothing created --------------------------------


BAD_POSTS = [
    ("no key", {"service_code": "environment", "lat": LAT, "long": LNG, "description": "x"}, 403),
    ("empty key", {"api_key": "", "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"}, 403),
    ("wrong key", {"api_key": "nope", "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"}, 403),
    ("unknown service", {"service_code": "no-such", "lat": LAT, "long": LNG, "description": "x"}, 400),
    ("petition", {"service_code": "petition", "lat": LAT, "long": LNG, "description": "x"}, 400),
    ("no service", {"service_code": "", "lat": LAT, "long": LNG, "description": "x"}, 400),
    ("no location", {"service_code": "environment", "description": "x"}, 400),
    (
        "empty location",
        {"service_code": "environment", "lat": "", "long": "", "address_string": "", "description": "x"},
        400,
    ),
    ("lat only", {"service_code": "environment", "lat": LAT, "description": "x"}, 400),
    ("lat not a number", {"service_code": "environment", "lat": "north", "long": LNG, "description": "x"}, 400),
    ("lat nan", {"service_code": "environment", "lat": "nan", "long": LNG, "description": "x"}, 400),
    ("out of range", {"service_code": "environment", "lat": "95", "long": LNG, "description": "x"}, 400),
    ("outside the grids", {"service_code": "environment", "lat": "30.1", "long": "120.1", "description": "x"}, 400),
    ("unknown address", {"service_code": "environment", "address_string": "火星基地", "description": "x"}, 400),
    ("unknown address_id", {"service_code": "environment", "address_id": "999", "description": "x"}, 400),
    ("too long", {"service_code": "environment", "lat": LAT, "long": LNG, "description": "长" * 4001}, 400),
    ("no description", {"service_code": "environment", "lat": LAT, "long": LNG}, 400),
    ("missing attribute", {"service_code": "neighbour", "lat": LAT, "long": LNG, "description": "x"}, 400),
    (
        "bad attribute",
        {"service_code": "neighbour", "lat": LAT, "long": LNG, "description": "x", "attribute[issue]": "zzz"},
        400,
    ),
    ("bad phone", {"service_code": "environment", "lat": LAT, "long": LNG, "description": "x", "phone": "12"}, 400),
    (
        "bad media",
        {"service_code": "environment", "lat": LAT, "long": LNG, "description": "x", "media_url": "ftp:x"},
        400,
    ),
    ("NUL in description", {"service_code": "environment", "lat": LAT, "long": LNG, "description": "x\x00y"}, 400),
    (
        "NUL in a name",
        {"service_code": "environment", "lat": LAT, "long": LNG, "description": "x", "first_name": "\x00"},
        400,
    ),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("name", "data", "status"), BAD_POSTS, ids=[b[0] for b in BAD_POSTS])
def test_bad_posts_create_nothing(where, key, fmt, name, data, status):
    if "api_key" not in data and name != "no key":
        data = {**data, "api_key": key}
    cases, audit = Case.objects.count(), AuditEvent.objects.count()
    response = post(data, fmt)
    assert response.status_code == status, response.content
    if fmt == "json":
        spec.check_errors(response.json(), status)
    else:
        spec.check_xml_errors(response.content, status)
    assert Case.objects.count() == cases and PostedRequest.objects.count() == 0
    assert InboxRow.objects.count() == 0  # nothing reached the intake inbox either
    assert AuditEvent.objects.count() == audit


def test_revoked_key_is_refused(where):
    client, raw = services.issue_key(name="Old app", actor=None)
    services.revoke_key(client, actor=None)
    response = post({"api_key": raw, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"})
    assert response.status_code == 403
    spec.check_errors(response.json(), 403)
    assert Case.objects.count() == 0
    assert get("requests", api_key=raw).status_code == 403


def test_key_is_stored_hashed_and_rate_limited(where):
    client, raw = services.issue_key(name="Busy app", requests_per_minute=2, actor=None)
    client.refresh_from_db()
    assert raw not in (client.key_hash, client.key_prefix) and client.key_hash == services.hash_key(raw)
    data = {"api_key": raw, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"}
    assert post(data).status_code == 201
    assert post(data).status_code == 201
    response = post(data)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    spec.check_errors(response.json(), 429)
    assert Case.objects.count() == 2
    assert ApiClient.objects.get().last_used_at is not None


def test_public_reads_allow_other_origins_posts_do_not(where, key):
    assert get("services")["Access-Control-Allow-Origin"] == "*"
    response = post({"api_key": key, "service_code": "environment", "lat": LAT, "long": LNG, "description": "x"})
    assert response.status_code == 201 and "Access-Control-Allow-Origin" not in response


def test_wrong_method(where):
    response = Client().post(f"{BASE}/services.json", {})
    assert response.status_code == 405
    spec.check_errors(response.json(), 405)


# --- GET requests: filters, defaults, workflow mapping, privacy ---------------------------------------------


def test_default_window_is_the_last_90_days(where):
    recent, old = new_case(where, days_ago=3), new_case(where, days_ago=120)
    rows = get("requests").json()
    numbers = [r["service_request_id"] for r in rows]
    assert recent.number in numbers and old.number not in numbers
    for row in rows:
        spec.check_request(row)
    spec.check_xml_requests(get("requests", "xml").content)


def test_empty_parameters_count_as_absent(where):
    case = new_case(where)
    params = dict.fromkeys(
        (
            "service_request_id",
            "service_code",
            "start_date",
            "end_date",
            "status",
            "page",
            "page_size",
            "updated_after",
            "updated_before",
            "extensions",
            "jurisdiction_id",
            "api_key",
        ),
        "",
    )
    response = get("requests", **params)
    assert response.status_code == 200
    assert [r["service_request_id"] for r in response.json()] == [case.number]


def test_filters(where):
    env = new_case(where, days_ago=5)
    hazard = new_case(where, code="hazard", days_ago=10, extra={"hazard_type": "fire"})
    closed = new_case(where, days_ago=20)
    Case.objects.filter(pk=closed.pk).update(state=CaseState.CLOSED, closed_at=timezone.now())
    old = new_case(where, days_ago=200)

    def numbers(**params):
        response = get("requests", **params)
        assert response.status_code == 200, response.content
        return {r["service_request_id"] for r in response.json()}

    assert numbers(service_code="hazard") == {hazard.number}
    assert numbers(service_code="hazard,environment") == {env.number, hazard.number, closed.number}
    assert numbers(status="closed") == {closed.number}
    assert numbers(status="open") == {env.number, hazard.number}
    assert numbers(status="open,closed") == {env.number, hazard.number, closed.number}
    now = timezone.localtime()
    assert numbers(start_date=(now - datetime.timedelta(days=7)).isoformat()) == {env.number}
    assert numbers(end_date=(now - datetime.timedelta(days=15)).isoformat()) == {closed.number}
    start = (now - datetime.timedelta(days=250)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - datetime.timedelta(days=170)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert numbers(start_date=start, end_date=end) == {old.number}
    # an unencoded "+" arrives as a space; still understood
    assert numbers(start_date=(now - datetime.timedelta(days=7)).isoformat(timespec="seconds").replace("+", " ")) == {
        env.number
    }
    # the id list overrides everything else, including the window
    assert numbers(service_request_id=f"{old.number},{env.number}", status="closed") == {old.number, env.number}
    # paging extension: newest first
    assert [r["service_request_id"] for r in get("requests", page_size=1).json()] == [env.number]
    assert [r["service_request_id"] for r in get("requests", page_size=1, page=2).json()] == [hazard.number]
    assert get("requests", page=99).json() == []
    # updated_after / updated_before extension
    Case.objects.filter(pk=hazard.pk).update(updated_at=now - datetime.timedelta(days=2))
    Case.objects.exclude(pk=hazard.pk).update(updated_at=now - datetime.timedelta(days=30))
    assert numbers(updated_after=(now - datetime.timedelta(days=3)).isoformat()) == {hazard.number}
    assert numbers(updated_before=(now - datetime.timedelta(days=3)).isoformat()) == {env.number, closed.number}


BAD_QUERIES = [
    ("malformed start", {"start_date": "yesterday"}),
    ("malformed end", {"end_date": "2026-13-45T00:00:00Z"}),
    ("over 90 days", {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}),
    ("end before start", {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}),
    ("bad status", {"status": "pending"}),
    ("unknown service", {"service_code": "no-such"}),
    ("bad page", {"page": "0"}),
    ("bad page size", {"page_size": "5000"}),
    ("page not a number", {"page": "two"}),
    ("bad extensions", {"extensions": "maybe"}),
    ("malformed updated_after", {"updated_after": "soon"}),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("name", "params"), BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
def test_bad_queries_are_400(where, fmt, name, params):
    response = get("requests", fmt, **params)
    assert response.status_code == 400, response.content
    if fmt == "json":
        spec.check_errors(response.json(), 400)
    else:
        spec.check_xml_errors(response.content, 400)


def test_exactly_90_days_is_allowed(where):
    response = get("requests", start_date="2026-01-01T00:00:00+08:00", end_date="2026-04-01T00:00:00+08:00")
    assert response.status_code == 200


def test_unknown_request_is_404(where):
    response = get("requests/20990101000001", "xml")
    assert response.status_code == 404
    spec.check_xml_errors(response.content, 404)


def test_rejection_is_closed_with_reason_and_guidance(where):
    case = new_case(where)
    Case.objects.filter(pk=case.pk).update(
        state=CaseState.REJECTED,
        resolution_outcome="rejected",
        rejection_reason="不属于本中心受理范围，请联系 13800138000",
        rejection_guidance="请向区市场监管局反映",
    )
    (row,) = get(f"requests/{case.number}").json()
    assert row["status"] == "closed" and row["expected_datetime"] is None
    assert "不属于本中心受理范围" in row["status_notes"] and "请向区市场监管局反映" in row["status_notes"]
    assert "13800138000" not in row["status_notes"]


def test_privacy_of_public_reads(where):
    listed = new_case(
        where,
        description="王大妈家楼上漏水，电话13912345678，身份证110101199003077777，邮箱a@b.cn",
        reporter_name="王秀英",
        reporter_phone="13912345678",
        lng=113.80512345,
        lat=22.40567891,
        address="枫溪社区3栋2单元502",
    )
    family = new_case(where, code="family", description="家庭纠纷")
    petition = new_case(where, code="petition", description="信访")
    assessment = new_case(where, channel=Channel.ASSESSMENT, description="家庭评估")
    rows = get("requests", extensions="true").json()
    numbers = {r["service_request_id"] for r in rows}
    assert numbers == {listed.number}
    for case in (family, petition, assessment):
        assert get(f"requests/{case.number}").status_code == 404
    (row,) = rows
    body = json.dumps(rows, ensure_ascii=False)
    for secret in ("王秀英", "13912345678", "110101199003077777", "a@b.cn", "502"):
        assert secret not in body
    assert row["lat"] == 22.406 and row["long"] == 113.805
    assert row["address"] == "枫溪街道 枫溪社区" and row["address_id"] == where.community.code


def test_extensions_notes_are_public_events_without_staff_names(where):
    from fengqiao.accounts.models import User

    case = new_case(where)
    officer = User.objects.create(username="zhang", first_name="张三", unit=where.centre)
    CaseEvent.objects.create(
        case=case, at=timezone.now(), action="handle_here", actor=officer, public=True, note="张三负责"
    )
    CaseEvent.objects.create(case=case, at=timezone.now(), action="comment", actor=officer, public=False, note="内部")
    (row,) = get(f"requests/{case.number}", extensions="true").json()
    spec.check_request(row, extensions=True)
    assert [n["summary"] for n in row["notes"]] == ["Report received", "Accepted; the centre is handling it"]
    assert row["notes"][1]["agency"] == where.centre.name
    body = json.dumps(row, ensure_ascii=False)
    assert "张三" not in body and "内部" not in body
    (xml_row,) = spec.check_xml_requests(
        get(f"requests/{case.number}", "xml", extensions="true").content, extensions=True
    )
    assert len(xml_row.findall("notes/note")) == 2
    # without the extension: the spec's fields only
    spec.check_request(get(f"requests/{case.number}").json()[0])


def test_public_reads_are_rate_limited_per_address(where, settings, monkeypatch):
    monkeypatch.setattr(services, "PUBLIC_RATE", (2, 60))
    assert get("services").status_code == 200
    assert get("services").status_code == 200
    response = get("services")
    assert response.status_code == 429
    spec.check_errors(response.json(), 429)


def test_chinese_by_default(where):
    from django.utils import translation

    with translation.override("zh-hans"):
        response = Client(headers={"accept-language": "zh-hans"}).get(f"{BASE}/services/no-such.json")
    assert response.status_code == 404
    assert "未知" in response.json()[0]["description"]


def test_control_characters_do_not_break_xml(where):
    case = new_case(where, description="井盖\x01缺失\x1b[0m")
    (request,) = spec.check_xml_requests(get(f"requests/{case.number}", "xml").content)
    assert request.findtext("description") == "井盖缺失[0m"


JUNK = [
    ("requests", {"page": "99999999999999999999"}),
    ("requests", {"service_request_id": "x" * 5000}),
    ("requests", {"service_request_id": ",".join(["1"] * 1001)}),
    ("requests", {"start_date": "9999-12-31T23:59:59+14:00"}),
    ("requests", {"start_date": "0001-01-01"}),
    ("requests", {"service_code": "a." * 100}),
    ("requests/%00", {}),
    ("requests/" + "9" * 30, {}),
    ("services/..", {}),
    ("tokens/" + "t" * 100, {}),
]


@pytest.mark.parametrize(("path", "params"), JUNK)
def test_junk_never_crashes(where, path, params):
    response = get(path, "json", **params)
    assert response.status_code in (200, 400, 404), response.content
    if response.status_code != 200:
        spec.check_errors(response.json(), response.status_code)


def test_list_queries_do_not_grow_with_the_page(where):
    for i in range(3):
        new_case(where, days_ago=i + 1)
    client = Client()
    client.get(f"{BASE}/requests.json")  # warm caches (categories, locale)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(f"{BASE}/requests.json", {"extensions": "true"}).json()) == 3
    for i in range(12):
        new_case(where, days_ago=i + 1)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{BASE}/requests.json", {"extensions": "true"}).json()) == 15
    assert len(many) == len(few) <= 8
