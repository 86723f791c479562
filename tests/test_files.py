"""Photo uploads: a resident uploads a JPEG carrying its GPS location, reports a ticket with it and reads it back
with a thumbnail; the stored photo has lost its location, the thumbnail is at most 320 px, links are tenant-bound,
signed and expiring; types are sniffed from the bytes; storage works on the local directory and a real S3 server."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import ExifTags, Image

from api.embedded import free_port
from jobs.kinds import KINDS
from jobs.worker import run_tenant_job
from tenants import clock
from tenants.config.service import change_config
from tenants.files import links
from tenants.files.images import sniff
from tenants.files.models import Purpose, StoredFile
from tenants.files.storage import LocalStorage, S3Storage, check_key, storage
from tenants.jobruns.models import JobRun, JobRunStatus
from tenants.scope import tenant_transaction
from tenants.settings import get_settings
from tenants.tenancy.roles import Role
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.ids import db_id

REPORT = """mutation($input: ReportTicketInput!) { reportTicket(input: $input) {
  id photoFiles { id contentType width height url thumbnailUrl }
  timeline { action files { id } } } }"""
TICKET = "query($id: ID!) { ticket(id: $id) { photoFiles { id size url thumbnailUrl } } }"
UPLOAD = "mutation($file: Upload!, $purpose: FilePurpose!) { uploadFile(file: $file, purpose: $purpose) " \
    "{ id contentType size width height url thumbnailUrl locationKept } }"


def photo(fmt: str = "JPEG", size: tuple[int, int] = (1200, 800), gps: bool = True) -> bytes:
    """A picture as a phone takes it: the camera's make and, with ``gps``, where it was taken (EXIF GPS)."""
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CivicCam"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (40.0, 36.0, 12.5),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (115.0, 2.0, 30.0),
        }
    buf = io.BytesIO()
    image.save(buf, fmt, exif=exif.tobytes())
    return buf.getvalue()


def gps_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(ExifTags.IFD.GPSInfo))


async def upload(client: httpx.AsyncClient, token: str, data: bytes, name: str = "photo.jpg",
                 mime: str = "image/jpeg", purpose: str = "TICKET") -> httpx.Response:
    operations = {"query": UPLOAD, "variables": {"file": None, "purpose": purpose}}
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, data, mime)},
        headers={"Authorization": f"Bearer {token}"},
    )


def uploaded(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]["uploadFile"]  # type: ignore[no-any-return]


def problems(body: dict) -> list[tuple[str, str]]:
    return [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]]


def ticket_input(world: dict, **over: Any) -> dict:
    return {"itemCode": "corridor_clutter", "description": "3单元楼道堆放杂物，影响通行",
            "compoundId": str(world["ids"]["K1"]), **over}


async def test_resident_reports_with_a_photo_that_loses_its_location(client, gql, two_cities, settings):
    zjk, other = two_cities["zhangjiakou"], two_cities["zjk2"]
    original = photo()
    assert gps_of(original)  # the camera wrote where it was
    f = uploaded(await upload(client, zjk["resident_h1"], original))
    assert (f["contentType"], f["width"], f["height"], f["locationKept"]) == ("image/jpeg", 1200, 800, False)

    body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[f["id"]])})
    assert "errors" not in body, body
    ticket = body["data"]["reportTicket"]
    assert [p["id"] for p in ticket["photoFiles"]] == [f["id"]]
    assert ticket["timeline"][0]["files"] == [{"id": f["id"]}]

    read = await gql(TICKET, zjk["resident_h1"], {"id": ticket["id"]})
    [p] = read["data"]["ticket"]["photoFiles"]
    full = await client.get(p["url"])  # a signed link: no token needed, as an <img src>
    thumb = await client.get(p["thumbnailUrl"])
    assert full.status_code == thumb.status_code == 200
    assert full.headers["content-type"] == "image/jpeg" and full.headers["x-content-type-options"] == "nosniff"
    assert gps_of(full.content) == {}  # the location is gone ...
    with Image.open(io.BytesIO(full.content)) as image:
        assert image.getexif()[ExifTags.Base.Make] == "CivicCam"  # ... the rest of the EXIF is not
        assert image.size == (1200, 800)
    assert len(full.content) == p["size"] < len(original)
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert max(image.size) <= 320 and image.size == (320, 213)

    # The same link with another tenant's token, that tenant's token on the file's id, and its own file lookups.
    stranger = other["resident_h1"]
    refused = await client.get(p["url"], headers={"Authorization": f"Bearer {stranger}"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    by_id = await client.get(f"/files/{f['id']}", headers={"Authorization": f"Bearer {stranger}"})
    assert by_id.status_code == 404 and by_id.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    gone = await gql("query($id: ID!) { file(id: $id) { id } }", stranger, {"id": f["id"]})
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # ... and a link of the other tenant naming this file (signed properly for that tenant) finds nothing.
    foreign = links.sign(other["tenant"].id, db_id(f["id"]), "o", now=clock.now())
    assert (await client.get(f"/files/{foreign}")).status_code == 404

    # The uploader reads it by id with a token; staff of the ticket's area too (through the ticket).
    mine = await client.get(f"/files/{f['id']}/thumbnail", headers={"Authorization": f"Bearer {zjk['resident_h1']}"})
    assert mine.status_code == 200 and mine.content == thumb.content
    neighbour = await client.get(f"/files/{f['id']}", headers={"Authorization": f"Bearer {zjk['resident_h2']}"})
    assert neighbour.status_code == 404


async def test_forged_and_expired_links_get_nothing(client, two_cities):
    zjk = two_cities["zhangjiakou"]
    f = uploaded(await upload(client, zjk["resident_h1"], photo()))
    token = f["url"].removeprefix("/files/")
    tenant, file, variant, expires, mac = token.split(".")
    forged = [
        f"{tenant}.{file}.{variant}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # a changed MAC
        f"{tenant}.{file}.t.{expires}.{mac}",  # the thumbnail's variant under the original's MAC
        f"{tenant}.{file}.{variant}.{int(expires) + 3600}.{mac}",  # a later expiry
        f"{two_cities['zjk2']['tenant'].id}.{file}.{variant}.{expires}.{mac}",  # another tenant
        "not-a-token",
    ]
    for bad in forged:
        resp = await client.get(f"/files/{bad}")
        assert resp.status_code in (403, 404), bad
        assert resp.headers["content-type"].startswith("application/json")
        if bad != "not-a-token":
            assert resp.status_code == 403 and resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    expired = links.sign(zjk["tenant"].id, int(file), "o", now=clock.now() - timedelta(minutes=16))
    resp = await client.get(f"/files/{expired}")
    assert resp.status_code == 401 and resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    fresh = links.sign(zjk["tenant"].id, int(file), "o", now=clock.now() - timedelta(minutes=14))
    assert (await client.get(f"/files/{fresh}")).status_code == 200
    no_token = await client.get(f"/files/{file}")
    assert no_token.status_code == 401


async def test_types_are_sniffed_from_the_bytes(client, gql, two_cities):
    resident = two_cities["zhangjiakou"]["resident_h1"]
    disguised = uploaded(await upload(client, resident, photo("PNG", (64, 48), gps=False), name="photo.jpg"))
    assert (disguised["contentType"], disguised["width"], disguised["height"]) == ("image/png", 64, 48)
    webp = uploaded(await upload(client, resident, photo("WEBP", (500, 400)), name="x.webp", mime="image/webp"))
    assert webp["contentType"] == "image/webp"
    got = await client.get(webp["url"])
    assert gps_of(got.content) == {} and got.content[:4] == b"RIFF"

    text = await upload(client, resident, "这不是图片，是一段文字".encode(), name="notes.jpg")
    body = text.json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert problems(body) == [("file", "type")]
    broken = await upload(client, resident, photo()[:300])
    assert problems(broken.json()) == [("file", "corrupt")]
    empty = await upload(client, resident, b"")
    assert problems(empty.json()) == [("file", "required")]
    assert sniff(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 8) == "image/heic"


async def test_heic_is_stored_as_jpeg_without_location(client, two_cities):
    pillow_heif = pytest.importorskip("pillow_heif", reason="HEIC needs pillow-heif")
    pillow_heif.register_heif_opener()
    resident = two_cities["zhangjiakou"]["resident_h1"]
    f = uploaded(await upload(client, resident, photo("HEIF", (400, 300)), name="IMG_0001.HEIC", mime="image/heic"))
    assert (f["contentType"], f["width"], f["height"]) == ("image/jpeg", 400, 300)
    assert gps_of((await client.get(f["url"])).content) == {}


async def test_attaching_checks_owner_purpose_and_tenant(client, gql, two_cities, settings):
    zjk, other = two_cities["zhangjiakou"], two_cities["zjk2"]
    mine = uploaded(await upload(client, zjk["resident_h1"], photo()))
    finding = uploaded(await upload(client, zjk["resident_h1"], photo(), purpose="FINDING"))
    theirs = uploaded(await upload(client, other["resident_h1"], photo()))
    # res-2 of the same tenant cannot attach res-1's photo; nobody attaches another tenant's or a finding's photo.
    body = await gql(REPORT, zjk["resident_h2"], {"input": ticket_input(zjk, photoFileIds=[mine["id"]])})
    assert problems(body) == [("photoFileIds.0", "unknown")]  # res-2 does not even read it
    body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[theirs["id"]])})
    assert problems(body) == [("photoFileIds.0", "unknown")]
    body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[finding["id"]])})
    assert problems(body) == [("photoFileIds.0", "purpose")]
    body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=["x"])})
    assert problems(body) == [("photoFileIds.0", "bad_id")]
    # Attached once; a second ticket cannot take it again. Deprecated links still work beside it.
    ok = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(
        zjk, photoFileIds=[mine["id"]], photos=["https://img.example/1.jpg"])})
    assert "errors" not in ok, ok
    again = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[mine["id"]])})
    assert problems(again) == [("photoFileIds.0", "attached")]
    # The administration may attach a resident's upload (files.attach_others), but not the same file twice.
    admin = bearer(settings, zjk["tenant"], Role.TENANT_ADMIN, user_id="admin")
    spare = uploaded(await upload(client, zjk["resident_h1"], photo()))
    body = await gql(REPORT, admin, {"input": ticket_input(zjk, photoFileIds=[spare["id"], spare["id"]])})
    assert problems(body) == [("photoFileIds", "duplicate")]
    body = await gql(REPORT, admin, {"input": ticket_input(zjk, photoFileIds=[spare["id"]])})
    assert "errors" not in body, body


async def test_resolution_and_finding_photos(client, gql, two_cities, settings):
    zjk = two_cities["zhangjiakou"]
    admin = bearer(settings, zjk["tenant"], Role.TENANT_ADMIN, user_id="admin")
    report = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk)})
    tid = report["data"]["reportTicket"]["id"]
    for step in ("dispatchTicket(id: $id)", "acceptTicket(id: $id)"):
        assert "errors" not in await gql(f"mutation($id: ID!) {{ {step} {{ id }} }}", admin, {"id": tid})
    after = uploaded(await upload(client, admin, photo()))
    resolved = await gql(
        "mutation($id: ID!, $f: [ID!]) { resolveTicket(id: $id, note: \"已清理\", photoFileIds: $f) "
        "{ photoFiles { id } timeline { action files { id thumbnailUrl } } } }", admin, {"id": tid, "f": [after["id"]]})
    assert "errors" not in resolved, resolved
    t = resolved["data"]["resolveTicket"]
    assert [p["id"] for p in t["photoFiles"]] == [after["id"]]
    assert [(e["action"], [f["id"] for f in e["files"]]) for e in t["timeline"]][-1] == ("resolve", [after["id"]])
    # The resident who reported reads the resolution's photo through the ticket.
    seen = await client.get(f"/files/{after['id']}", headers={"Authorization": f"Bearer {zjk['resident_h1']}"})
    assert seen.status_code == 200

    shot = uploaded(await upload(client, admin, photo(), purpose="FINDING"))
    body = await gql(
        "mutation($k: ID!, $f: [ID!]) { recordFinding(compoundId: $k, description: \"垃圾未清运\", photoFileIds: $f) "
        "{ photos { id thumbnailUrl } } }", admin, {"k": str(zjk["ids"]["K1"]), "f": [shot["id"]]})
    assert "errors" not in body, body
    assert [p["id"] for p in body["data"]["recordFinding"]["photos"]] == [shot["id"]]


async def test_a_tenant_may_keep_the_location(client, two_cities):
    zjk = two_cities["zhangjiakou"]
    async with tenant_transaction(zjk["tenant"].id):
        await change_config(access=ADMIN, actor="admin", set_values={"files": {"keep_location": True}},
                            comment="保留照片位置")
    f = uploaded(await upload(client, zjk["resident_h1"], photo()))
    assert f["locationKept"] is True
    assert gps_of((await client.get(f["url"])).content)[ExifTags.GPS.GPSLatitudeRef] == "N"


async def test_upload_limits(client, settings, two_cities):
    resident = two_cities["zhangjiakou"]["resident_h1"]
    huge = b"\xff\xd8\xff" + b"\x00" * (settings.max_upload_bytes + settings.max_body_bytes)
    resp = await upload(client, resident, huge)
    assert resp.status_code == 413 and resp.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    over = b"\xff\xd8\xff" + b"\x00" * settings.max_upload_bytes  # within the body limit, over the file limit
    assert problems((await upload(client, resident, over)).json()) == [("file", "too_large")]
    # Without a token, nothing is uploaded; a multipart body that is not the spec's is a JSON 400.
    assert (await upload(client, "nope", photo())).status_code == 401
    bad = await client.post("/graphql", content=b"--x\r\n\r\n", headers={
        "Authorization": f"Bearer {resident}", "Content-Type": "multipart/form-data; boundary=x"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["code"]
    for body, kind in ((b"{ me { userId } }", "multipart/form-data"),
                       (b'{"query": "{ me { userId } }"}', "multipart/form-data; boundary=x"),
                       (b"--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n[1]\r\n--x--\r\n",
                        "multipart/form-data; boundary=x")):
        resp = await client.post("/graphql", content=body, headers={
            "Authorization": f"Bearer {resident}", "Content-Type": kind})
        assert resp.status_code == 400 and resp.headers["content-type"].startswith("application/json"), resp.text
    async with tenant_transaction(two_cities["zhangjiakou"]["tenant"].id):
        assert await StoredFile.all().count() == 0


async def test_storage_keys_stay_inside_the_tenant_directory(tmp_path):
    store = LocalStorage(tmp_path)
    await store.put("7/2026/12/abc.jpg", b"x", "image/jpeg")
    assert (tmp_path / "7" / "2026" / "12" / "abc.jpg").read_bytes() == b"x"
    assert await store.exists("7/2026/12/abc.jpg") and await store.get("7/2026/12/abc.jpg") == b"x"
    await store.delete("7/2026/12/abc.jpg")
    assert not await store.exists("7/2026/12/abc.jpg") and await store.get("7/2026/12/abc.jpg") is None
    for bad in ("../etc/passwd", "/etc/passwd", "7/../8/a.jpg", "x/a.jpg", "7//a.jpg"):
        with pytest.raises(ValueError):
            check_key(bad)



async def test_s3_storage_against_a_real_s3_server():
    """moto's S3 server (an S3-compatible HTTP server like MinIO), reached over HTTP with SigV4 by boto3."""
    server_mod = pytest.importorskip("moto.server", reason="the S3 test needs moto[server]")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        store = S3Storage(endpoint=f"http://127.0.0.1:{port}", bucket="civicgrid-files", access_key="test",
                          secret_key="test-secret", region="us-east-1")
        await asyncio.to_thread(store.client.create_bucket, Bucket="civicgrid-files")
        data = photo()
        await store.put("3/2026/12/a.jpg", data, "image/jpeg")
        assert await store.exists("3/2026/12/a.jpg")
        assert await store.get("3/2026/12/a.jpg") == data
        head = await asyncio.to_thread(store.client.head_object, Bucket="civicgrid-files", Key="3/2026/12/a.jpg")
        assert head["ContentType"] == "image/jpeg"
        await store.delete("3/2026/12/a.jpg")
        assert not await store.exists("3/2026/12/a.jpg") and await store.get("3/2026/12/a.jpg") is None
    finally:
        server.stop()


# --- The cleanup of uploads never attached (tenants/files/scheduled.py, the hourly ``file_cleanup`` job) --------

def _period() -> str:
    return KINDS["file_cleanup"].period(clock.now(), ZoneInfo("Asia/Shanghai"))


async def _age(tenant_id: int, file_id: str, hours: float) -> None:
    """As if the file had been uploaded ``hours`` ago."""
    async with tenant_transaction(tenant_id):
        await StoredFile.filter(id=db_id(file_id)).update(uploaded_at=clock.now() - timedelta(hours=hours))


async def _stored(tenant_id: int, file_id: str) -> tuple[bool, bool, bool]:
    """Whether the row, the object and the thumbnail of a file exist."""
    async with tenant_transaction(tenant_id):
        row = await StoredFile.get_or_none(id=db_id(file_id))
        if row is None:
            return False, False, False
        return True, await storage().exists(row.key), await storage().exists(row.thumbnail_key)


async def _keys(tenant_id: int, file_id: str) -> tuple[str, str]:
    async with tenant_transaction(tenant_id):
        row = await StoredFile.get(id=db_id(file_id))
        return row.key, row.thumbnail_key


async def test_uploads_never_attached_are_deleted_after_the_retention(client, gql, two_cities):
    zjk, other = two_cities["zhangjiakou"], two_cities["zjk2"]
    z, o = zjk["tenant"].id, other["tenant"].id
    stale = uploaded(await upload(client, zjk["resident_h1"], photo()))["id"]
    fresh = uploaded(await upload(client, zjk["resident_h1"], photo()))["id"]
    kept = uploaded(await upload(client, zjk["resident_h1"], photo()))["id"]
    body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[kept])})
    assert "errors" not in body, body
    foreign = uploaded(await upload(client, other["resident_h1"], photo()))["id"]
    for tenant, f, hours in ((z, stale, 25), (z, fresh, 23), (z, kept, 48), (o, foreign, 25)):
        await _age(tenant, f, hours)
    stale_keys = await _keys(z, stale)

    # An upload past its retention can no longer be attached (the cleanup may have deleted its bytes already).
    late = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[stale])})
    assert problems(late) == [("photoFileIds.0", "expired")]

    result = await run_tenant_job({}, "file_cleanup", z, _period())
    assert result == {"executed": True, "reason": "executed"}
    assert await _stored(z, stale) == (False, False, False)
    async with tenant_transaction(z):  # the object and thumbnail themselves, not only the row
        assert not await storage().exists(stale_keys[0]) and not await storage().exists(stale_keys[1])
    assert await _stored(z, fresh) == (True, True, True)  # within 24 h
    assert await _stored(z, kept) == (True, True, True)  # attached: never deleted, however old
    assert await _stored(o, foreign) == (True, True, True)  # another tenant's run deletes it, not this one
    async with tenant_transaction(z):
        assert (await JobRun.get(kind="file_cleanup")).counts == {"deleted": 1}
    # Twice: the same period is a no-op; an explicit re-run finds nothing more.
    assert (await run_tenant_job({}, "file_cleanup", z, _period()))["reason"] == "already_done"
    assert (await run_tenant_job({"job_id": "again"}, "file_cleanup", z, _period(), rerun=True))["executed"]
    assert await _stored(z, fresh) == (True, True, True)

    # The other tenant keeps unattached uploads for 48 hours: its 25-hour-old one stays.
    async with tenant_transaction(o):
        await change_config(access=ADMIN, actor="admin", set_values={"files": {"unattached_retention_hours": 48}},
                            comment="未附加的上传保留两天")
    await run_tenant_job({}, "file_cleanup", o, _period())
    assert await _stored(o, foreign) == (True, True, True)
    await _age(o, foreign, 49)
    await run_tenant_job({"job_id": "later"}, "file_cleanup", o, _period(), rerun=True)
    assert await _stored(o, foreign) == (False, False, False)
    assert await _stored(z, kept) == (True, True, True)


async def test_a_cleanup_that_crashes_after_deleting_the_objects_is_finished_by_the_next_run(
        client, two_cities, monkeypatch):
    zjk = two_cities["zhangjiakou"]
    z = zjk["tenant"].id
    ids = [uploaded(await upload(client, zjk["resident_h1"], photo()))["id"] for _ in range(2)]
    for f in ids:
        await _age(z, f, 30)
    await _crash_then_finish(z, ids, monkeypatch)


async def _crash_then_finish(tenant_id: int, ids: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies between the storage deletes and the row deletes; the next hour's run finishes the work."""
    from tenants.files import scheduled

    async def crash(row_ids: list[int]) -> int:
        raise ConnectionResetError("the worker died here")

    with monkeypatch.context() as patched:
        patched.setattr(scheduled, "_remove_rows", crash)
        with pytest.raises(ConnectionResetError):
            await run_tenant_job({"job_try": 3}, "file_cleanup", tenant_id, "crash-hour")
    for f in ids:
        assert await _stored(tenant_id, f) == (True, False, False)  # objects gone, rows rolled back
    async with tenant_transaction(tenant_id):
        assert (await JobRun.get(period_key="crash-hour")).status == JobRunStatus.FAILED
    assert (await run_tenant_job({}, "file_cleanup", tenant_id, "next-hour"))["executed"]
    for f in ids:
        assert await _stored(tenant_id, f) == (False, False, False)
    async with tenant_transaction(tenant_id):
        assert (await JobRun.get(period_key="next-hour")).counts == {"deleted": len(ids)}


async def test_the_cleanup_on_a_real_s3_server(client, gql, two_cities, monkeypatch):
    """The same job against moto's S3 server: objects deleted from the bucket, an attached file's kept, a crash
    between the bucket and the rows finished by the next run."""
    server_mod = pytest.importorskip("moto.server", reason="the S3 test needs moto[server]")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"CIVICGRID_FILES_BACKEND": "s3", "CIVICGRID_S3_ENDPOINT": f"http://127.0.0.1:{port}",
           "CIVICGRID_S3_BUCKET": "civicgrid-cleanup", "CIVICGRID_S3_ACCESS_KEY": "test",
           "CIVICGRID_S3_SECRET_KEY": "test-secret"}
    try:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        store = storage()
        assert isinstance(store, S3Storage)
        await asyncio.to_thread(store.client.create_bucket, Bucket="civicgrid-cleanup")
        zjk = two_cities["zhangjiakou"]
        z = zjk["tenant"].id
        stale, crashed, kept = [uploaded(await upload(client, zjk["resident_h1"], photo()))["id"] for _ in range(3)]
        body = await gql(REPORT, zjk["resident_h1"], {"input": ticket_input(zjk, photoFileIds=[kept])})
        assert "errors" not in body, body
        for f in (stale, crashed, kept):
            await _age(z, f, 30)
        listed = await asyncio.to_thread(store.client.list_objects_v2, Bucket="civicgrid-cleanup")
        assert len(listed["Contents"]) == 6 and all(o["Key"].startswith(f"{z}/") for o in listed["Contents"])

        await run_tenant_job({}, "file_cleanup", z, _period())
        assert await _stored(z, stale) == await _stored(z, crashed) == (False, False, False)
        assert await _stored(z, kept) == (True, True, True)
        listed = await asyncio.to_thread(store.client.list_objects_v2, Bucket="civicgrid-cleanup")
        assert sorted(o["Key"] for o in listed["Contents"]) == sorted(await _keys(z, kept))

        more = [uploaded(await upload(client, zjk["resident_h1"], photo()))["id"] for _ in range(2)]
        for f in more:
            await _age(z, f, 30)
        await _crash_then_finish(z, more, monkeypatch)
        assert await _stored(z, kept) == (True, True, True)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        server.stop()


async def test_an_upload_whose_row_fails_leaves_no_object(two_cities, monkeypatch):
    from tenants.files import service

    written: list[str] = []
    real_put = LocalStorage.put

    async def put(self: LocalStorage, key: str, data: bytes, content_type: str) -> None:
        written.append(key)
        await real_put(self, key, data, content_type)

    async def refuse(**kwargs: Any) -> StoredFile:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(LocalStorage, "put", put)
    monkeypatch.setattr(service.StoredFile, "create", refuse)
    z = two_cities["zhangjiakou"]["tenant"].id
    with pytest.raises(ConnectionResetError):
        async with tenant_transaction(z):
            await service.upload(caller=ADMIN, actor="admin", data=photo(), purpose=Purpose.TICKET)
    assert len(written) == 2
    async with tenant_transaction(z):
        assert not any([await storage().exists(key) for key in written])
