"""Open311 GeoReport v2 (/open311/v2/): driven by a client nobody here wrote (the PyPI package ``georeport``)
against a real uvicorn, then the spec's errors, public data only, paging and tenant isolation."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from xml.etree import ElementTree

import httpx
import pytest
from georeport import GeoReport
from hypothesis import given
from hypothesis import strategies as st

from tenants.config.service import change_config, effective_config
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.tickets import public
from tests.fixtures.callers import ADMIN, bearer
from tests.uvicorn_kit import serving

V2 = "/open311/v2"
# Nothing that names or locates a person may appear in a service request.
PRIVATE = ("reporter", "contact", "phone", "household", "entered_by", "email", "first_name", "account")


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_a_third_party_client_lists_services_posts_and_reads_back(app, settings, linshu_departments):
    world = linshu_departments
    async with serving(app, settings) as port:
        root = f"http://127.0.0.1:{port}{V2}"
        client = GeoReport(root, jurisdiction="linshu")
        services = await asyncio.to_thread(client.get_service_list)
        assert {s["type"] for s in services} == {"realtime"} and all(s["metadata"] is True for s in services)
        groups = {s["group"] for s in services}
        assert len(groups) == 5  # 临沭: 5 categories
        # A service a resident can report at home: one whose definition asks for a compound (or a node in it).
        service = next(s for s in services if "小区" in s["description"])
        definition = await asyncio.to_thread(client.get_service_definition, service["service_code"])
        assert definition["service_code"] == service["service_code"]
        assert [a["code"] for a in definition["attributes"]] == [
            "household_id", "building_id", "compound_id", "community_id"]

        # georeport has no POST: the spec's form-encoded POST, with the token as api_key (as the spec carries it).
        household = str(world["ids"]["H1"])
        async with httpx.AsyncClient() as http:
            posted = await http.post(f"{root}/requests.json", data={
                "jurisdiction_id": "linshu", "api_key": world["resident"], "service_code": service["service_code"],
                "description": "楼道里堆满了杂物，消防通道被堵", "attribute[household_id]": household,
                "phone": "13800000000",
            })
        assert posted.status_code == 201, posted.text
        [answer] = posted.json()
        request_id = answer["service_request_id"]

        # georeport reads with no key of its own: the token rides in the URL as HTTP Basic credentials.
        signed = GeoReport(f"http://api_key:{world['resident']}@127.0.0.1:{port}{V2}", jurisdiction="linshu")
        fetched = await asyncio.to_thread(signed.get_service_request, request_id)
        assert fetched["service_request_id"] == request_id and fetched["status"] == "open"
        assert fetched["service_code"] == service["service_code"]
        assert fetched["service_name"] == service["service_name"]
        assert fetched["description"] is None and fetched["address"] is None and fetched["lat"] is None
        assert not any(word in key for key in fetched for word in PRIVATE)
        assert "13800000000" not in str(fetched) and "消防通道" not in str(fetched)
        listed = await asyncio.to_thread(signed.get_service_requests, status="open")
        assert [r["service_request_id"] for r in listed] == [request_id]
        assert await asyncio.to_thread(signed.get_service_requests, status="closed") == []

        # The same in XML, through georeport's own XML mode.
        xml = GeoReport(root, jurisdiction="linshu", output_format="xml")
        assert [s["service_code"] for s in await asyncio.to_thread(xml.get_service_list)] == [
            s["service_code"] for s in services]

        # Without a token, a request is not readable (public reads are the services only).
        anonymous = await asyncio.to_thread(lambda: __import__("requests").get(
            f"{root}/requests/{request_id}.json", params={"jurisdiction_id": "linshu"}))
        assert anonymous.status_code == 401 and anonymous.json()[0]["code"] == 401


async def test_discovery_and_the_spec_errors(client, linshu_departments):
    body = (await client.get(f"{V2}/discovery.json")).json()
    assert body["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert body["endpoints"][0]["url"].endswith(V2)

    for path, status in (
        (f"{V2}/services.json", 400),  # no jurisdiction_id and no token
        (f"{V2}/services.json?jurisdiction_id=nowhere", 404),
        (f"{V2}/services.json?jurisdiction_id=lin%00shu", 400),
        (f"{V2}/services/no_such_item.json?jurisdiction_id=linshu", 404),
        (f"{V2}/services.yaml?jurisdiction_id=linshu", 404),
        (f"{V2}/requests.json?jurisdiction_id=linshu", 401),
        (f"{V2}/requests/1.json?jurisdiction_id=linshu", 401),
    ):
        resp = await client.get(path)
        assert resp.status_code == status, (path, resp.text)
        [error] = resp.json()
        assert error["code"] == status and error["description"], path

    xml = await client.get(f"{V2}/services.xml")
    assert xml.status_code == 400 and xml.headers["content-type"].startswith("text/xml")
    assert b"<errors><error><code>400</code>" in xml.content
    bad_token = await client.get(f"{V2}/requests.json", headers=_auth("nope"))
    assert bad_token.status_code == 401 and "WWW-Authenticate" in bad_token.headers


async def test_hostile_input_is_a_client_error(client, linshu_departments):
    token = linshu_departments["resident"]
    bad_gets = {
        "service_request_id=99999999999999999999": "service_request_id",
        "start_date=yesterday": "start_date",
        "start_date=2026-01-01T00:00:00": "start_date",  # no offset
        "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z": "end_date",  # over 90 days
        "status=pending": "status",
        "page_size=0": "page_size",
        "after=not-a-cursor": "after",
        "service_code=a%00b": "service_code",
    }
    for query, param in bad_gets.items():
        resp = await client.get(f"{V2}/requests.json?{query}", headers=_auth(token))
        assert resp.status_code == 400, (query, resp.text)
        assert resp.json()[0]["description"].startswith(param), (query, resp.json())
    resp = await client.get(f"{V2}/requests/abc.json", headers=_auth(token))
    assert resp.status_code == 400

    posts = [
        ({"service_code": "no_such_item", "description": "x", "address_string": "y"}, "service_code"),
        ({"service_code": "x", "description": "a\x00b"}, "description"),
        ({"description": "没有事项"}, "service_code"),
        ({"service_code": "x", "description": "d", "lat": "NaN", "long": "1"}, "lat"),
        ({"service_code": "x", "description": "d", "attribute[household_id]": "-1"}, "attribute[household_id]"),
    ]
    for data, param in posts:
        resp = await client.post(f"{V2}/requests.json", data=data, headers=_auth(token))
        assert resp.status_code == 400, (data, resp.text)
        assert any(e["description"].startswith(param) for e in resp.json()), (data, resp.json())
    for content, kind, status in ((b"[1, 2]", "application/json", 400), (b"{", "application/json", 400),
                                  (b"x", "text/plain", 415), (b"a" * 2_000_000, "application/json", 413)):
        resp = await client.post(f"{V2}/requests.json", content=content, headers={**_auth(token),
                                                                                 "Content-Type": kind})
        assert resp.status_code == status, (kind, resp.text[:200])
        assert resp.json()[0]["code"] == status


async def test_json_posts_paging_and_each_reader_its_own(client, settings, linshu_departments):
    world = linshu_departments
    ids = world["ids"]
    codes = [s["service_code"] for s in (await client.get(f"{V2}/services.json",
                                                          params={"jurisdiction_id": "linshu"})).json()]
    made = []
    for i in range(3):
        resp = await client.post(f"{V2}/requests.json", headers=_auth(world["resident"]), json={
            "service_code": codes[i], "description": f"第 {i} 件事", "attribute": {"household_id": ids["H1"]}})
        assert resp.status_code == 201, resp.text
        made.append(resp.json()[0]["service_request_id"])
    retry = {**_auth(world["resident"]), "Idempotency-Key": "k-1"}
    first = await client.post(f"{V2}/requests.json", headers=retry, data={
        "service_code": codes[0], "description": "重试", "attribute[household_id]": str(ids["H1"])})
    again = await client.post(f"{V2}/requests.json", headers=retry, data={
        "service_code": codes[0], "description": "重试", "attribute[household_id]": str(ids["H1"])})
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    made.append(first.json()[0]["service_request_id"])

    page = await client.get(f"{V2}/requests.json", params={"page_size": 3}, headers=_auth(world["resident"]))
    assert [r["service_request_id"] for r in page.json()] == made[::-1][:3]  # newest first
    link = page.headers["Link"]
    assert link.endswith('rel="next"')
    rest = await client.get(link[1:link.index(">")], headers=_auth(world["resident"]))
    assert [r["service_request_id"] for r in rest.json()] == made[:1] and "Link" not in rest.headers
    chosen = await client.get(f"{V2}/requests.json", headers=_auth(world["resident"]),
                              params={"service_request_id": ",".join(made[:2]), "service_code": "ignored"})
    assert sorted(r["service_request_id"] for r in chosen.json()) == sorted(made[:2])
    by_code = await client.get(f"{V2}/requests.json", headers=_auth(world["resident"]),
                               params={"service_code": codes[1]})
    assert [r["service_request_id"] for r in by_code.json()] == [made[1]]

    # Another resident of the same tenant reads none of them; staff of the area read them all.
    neighbour = bearer(settings, world["tenant"], Role.RESIDENT, f"household:{ids['H2']}", user_id="res-H2")
    assert (await client.get(f"{V2}/requests.json", headers=_auth(neighbour))).json() == []
    assert (await client.get(f"{V2}/requests/{made[0]}.json", headers=_auth(neighbour))).status_code == 404
    staff = await client.get(f"{V2}/requests.json", headers=_auth(world["community_worker"]))
    assert len(staff.json()) == 4


async def test_another_tenant_never_sees_this_ones_data(client, linshu_departments):
    world = linshu_departments
    made = await client.post(f"{V2}/requests.json", headers=_auth(world["admin"]), data={
        "service_code": "illegal_construction", "description": "违章搭建",
        "attribute[compound_id]": str(world["ids"]["K1"])})
    assert made.status_code == 201, made.text
    ticket = made.json()[0]["service_request_id"]
    other = _auth(world["other_admin"])  # 张家口's administrator
    for path in (f"{V2}/requests.json?jurisdiction_id=linshu", f"{V2}/requests/{ticket}.json?jurisdiction_id=linshu",
                 f"{V2}/services.json?jurisdiction_id=linshu"):
        resp = await client.get(path, headers=other)
        assert resp.status_code == 403, path
    assert (await client.get(f"{V2}/requests/{ticket}.json", headers=other)).status_code == 404
    assert (await client.get(f"{V2}/requests.json", headers=other)).json() == []
    posted = await client.post(f"{V2}/requests.json?jurisdiction_id=linshu", headers=other,
                               data={"service_code": "illegal_construction", "description": "x"})
    assert posted.status_code == 403
    own = (await client.get(f"{V2}/services.json", headers=other)).json()  # the token's own jurisdiction
    assert len(own) == 27 and len({s["group"] for s in own}) == 9  # 张家口's 9 categories, 27 items


WROTE = "楼道堆物，联系 138 0013 8000 或 0539-6212345，身份证 37132919900307123X，邮箱 li.ming@example.cn"


async def test_descriptions_are_published_masked_only_where_the_tenant_says_so(app, client, settings,
                                                                                linshu_departments):
    world = linshu_departments
    posted = await client.post(f"{V2}/requests.json", headers=_auth(world["resident"]), data={
        "service_code": "illegal_construction", "description": WROTE,
        "attribute[household_id]": str(world["ids"]["H1"])})
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    one, listed = f"{V2}/requests/{request_id}.json", f"{V2}/requests.json"

    # By default (open311.publish_descriptions = false) nothing the resident wrote is published.
    for path in (one, listed):
        [record] = (await client.get(path, headers=_auth(world["resident"]))).json()
        assert record["description"] is None, path

    async with tenant_transaction(world["tenant"].id):
        await change_config(access=ADMIN, actor="admin", set_values={"open311": {"publish_descriptions": True}},
                            comment="公开诉求内容")
    expected = "楼道堆物，联系 [电话已隐去] 或 [电话已隐去]，身份证 [证件号已隐去]，邮箱 [邮箱已隐去]"
    for path in (one, listed):
        [record] = (await client.get(path, headers=_auth(world["community_worker"]))).json()
        assert record["description"] == expected, path
    xml = await client.get(f"{V2}/requests/{request_id}.xml", headers=_auth(world["resident"]))
    assert ElementTree.fromstring(xml.content).findtext("service_request/description") == expected

    # The same through georeport (the token as HTTP Basic credentials, as it reads with no key of its own).
    async with serving(app, settings) as port:
        signed = GeoReport(f"http://api_key:{world['resident']}@127.0.0.1:{port}{V2}", jurisdiction="linshu")
        fetched = await asyncio.to_thread(signed.get_service_request, request_id)
        assert fetched["description"] == expected
        assert not any(digits in str(fetched) for digits in ("0013", "6212345", "19900307", "li.ming"))


async def test_a_district_inherits_the_setting_from_its_city(linshu_departments):
    district = await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou")
    async with tenant_transaction(linshu_departments["other"].id):
        await change_config(access=ADMIN, actor="admin", set_values={"open311": {"publish_descriptions": True}},
                            comment="全市公开诉求内容")
    async with tenant_transaction(district.id):
        effective = await effective_config()
        assert effective.document.open311.publish_descriptions is True
        assert effective.sources["open311.publish_descriptions"] == "zhangjiakou"
        await change_config(access=ADMIN, actor="admin", set_values={"open311": {"publish_descriptions": False}},
                            comment="本区不公开")
        assert (await effective_config()).document.open311.publish_descriptions is False


async def test_an_item_that_expects_a_photo_says_so_and_still_takes_a_report_without(app, client, settings,
                                                                                    linshu_departments):
    world = linshu_departments
    async with serving(app, settings) as port:
        client311 = GeoReport(f"http://127.0.0.1:{port}{V2}", jurisdiction="linshu")
        services = {s["service_code"]: s for s in await asyncio.to_thread(client311.get_service_list)}
        assert services["illegal_construction"]["description"].endswith("请附照片（media_url）。")
        assert not any("照片" in s["description"] for code, s in services.items() if code != "illegal_construction")
        definition = await asyncio.to_thread(client311.get_service_definition, "illegal_construction")
        hint = definition["attributes"][-1]
        assert (hint["code"], hint["variable"], hint["required"]) == ("photo_expected", False, False)
        plain = await asyncio.to_thread(client311.get_service_definition, "fee_dispute")
        assert "photo_expected" not in [a["code"] for a in plain["attributes"]]
    # A hint, not a refusal: a report without media_url is taken.
    posted = await client.post(f"{V2}/requests.json", headers=_auth(world["resident"]), data={
        "service_code": "illegal_construction", "description": "违章搭建",
        "attribute[household_id]": str(world["ids"]["H1"])})
    assert posted.status_code == 201, posted.text


@pytest.mark.parametrize(("wrote", "published"), [
    ("电话13800000000，请回电", "电话[电话已隐去]，请回电"),
    ("手机 138 0000 0000", "手机 [电话已隐去]"),
    ("+86-138-0000-0000 找我", "[电话已隐去] 找我"),
    ("座机(0313)1234567", "座机[电话已隐去]"),
    ("身份证 110101 19900307 123x", "身份证 [证件号已隐去]"),
    ("老身份证110101900307123", "老身份证[证件号已隐去]"),  # the old 15-digit card
    ("银行卡6222021234567890123", "银行卡[号码已隐去]"),
    ("１３８００００００００", "[电话已隐去]"),  # full-width, as an input method types them
    ("电话１３８－００１３－８０００", "电话[电话已隐去]"),
    ("138—0013—8000 或 138.0013.8000 或 1380 013 8000", "[电话已隐去] 或 [电话已隐去] 或 [电话已隐去]"),
    ("座机8123-4567，座机 0313 123 4567", "座机[电话已隐去]，座机 [电话已隐去]"),
    ("身份证 1101 0119 9003 0777 7X", "身份证 [证件号已隐去]"),
    ("身份证号110101199003077777X", "身份证号[号码已隐去]"),  # 18 digits and an X: not a card, still masked whole
    ("邮箱 a＠example.com", "邮箱 [邮箱已隐去]"),
    ("2026-12-01 13800138000 联系", "2026-12-01 [电话已隐去] 联系"),
    ("联系我a.b@qq.com谢谢", "联系我[邮箱已隐去]谢谢"),
    # What is not personal stays: rooms, dates, counts.
    ("3单元1302室，2026-11-30 晚上，堆了 12 袋", "3单元1302室，2026-11-30 晚上，堆了 12 袋"),
])
def test_what_a_published_description_masks(wrote, published):
    assert public.masked(wrote) == published


@given(st.text(alphabet="0123456789０１２３ -+()abc@.楼道", max_size=60))
def test_no_long_number_survives_masking(text):
    shown = unicodedata.normalize("NFKC", public.masked(text))
    undated = re.sub(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", "", shown)  # a date is kept (and it is not personal)
    assert not re.search(r"\d(?:[ \-.]?\d){6,}", undated), shown