"""The web server's limits and its gate: every bad request is a 4xx JSON error, and nothing runs."""

from __future__ import annotations

import io
import logging
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from impasto.cli.serve import listening
from impasto.web.app import create_app
from impasto.web.jobs import JobStore
from impasto.web.settings import ServerSettings

TINY = {"size": "64", "iterations": "8"}


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def server(tmp_path):
    with ExitStack() as stack:

        def make(**settings) -> TestClient:
            app = create_app(ServerSettings(data_dir=tmp_path / "data", **settings), run_jobs=False)
            return stack.enter_context(TestClient(app))

        yield make


def post(
    client: TestClient, content: bytes | None = None, styles: tuple[bytes, ...] = (), name: str = "a.png", **fields
):
    files = [("content", (name, content, "image/png"))] if content is not None else []
    files += [("styles", (f"s{i}.png", s, "image/png")) for i, s in enumerate(styles)]
    return client.post("/api/jobs", files=files or None, data={**TINY, **fields})


def error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


def nothing_queued(client: TestClient) -> bool:
    return client.get("/api/health").json()["jobs"] == 0


def test_an_upload_over_the_limit_is_refused_before_it_is_read(server):
    client = server(max_upload_bytes=100_000)
    big = bytes(200_000)
    assert error(post(client, big, (png(64, 64),)), 413) == "the upload is over this server's limit of 97.7 KB per job"
    # a chunked body (no Content-Length) is cut off once it passes the limit
    chunks = (bytes(16_384) for _ in range(20))
    response = client.post("/api/jobs", content=chunks, headers={"content-type": "multipart/form-data; boundary=x"})
    assert "over this server's limit" in error(response, 413)
    assert nothing_queued(client)


def test_a_file_that_is_not_an_image(server):
    client = server()
    message = error(post(client, b"hello, this is text", (png(64, 64),), name="notes.png"), 422)
    assert message == "the photo (notes.png): not an image file that Pillow can read"
    assert nothing_queued(client)


def test_an_image_over_the_pixel_limit(server):
    client = server(max_pixels=10_000)
    message = error(post(client, png(128, 96), (png(64, 64),), name="big.png"), 422)
    assert message == "the photo (big.png): 128x96 px is over the limit of 10,000 pixels"
    message = error(post(client, png(64, 64), (png(120, 100),)), 422)
    assert message.startswith("painting 1 (s0.png): 120x100 px is over the limit")
    assert nothing_queued(client)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"size": "4096"}, "size must be between 32 and 2048; got 4096"),
        ({"size": "16"}, "size must be between 32 and 2048; got 16"),
        ({"size": "big"}, "size: Input should be a valid integer"),
        ({"iterations": "0"}, "iterations must be between 1 and 2000; got 0"),
        ({"style_strength": "nan"}, "style_strength must be between 0.01 and 100.0; got nan"),
        ({"style_strength": "1000"}, "style_strength must be between 0.01 and 100.0; got 1000.0"),
        ({"preserve_color": "sepia"}, "preserve_color: Input should be 'none', 'luminance' or 'histogram'"),
        ({"preset": "picasso"}, "preset must be one of default, subtle, classic, gatys2015; got 'picasso'"),
        ({"seed": "-1"}, "seed must be between 0 and 9223372036854775807; got -1"),
    ],
)
def test_a_bad_option(server, fields, expected):
    client = server()
    assert error(post(client, png(64, 64), (png(64, 64),), **fields), 422).startswith(expected)
    assert nothing_queued(client)


@pytest.mark.parametrize(
    ("content", "styles", "samples", "expected"),
    [
        (None, 1, {}, "give a photo: upload one, or choose a sample"),
        (True, 0, {}, "give at least one painting: upload one, or choose a sample"),
        (True, 9, {}, "9 paintings; at most 8 per job"),
        (None, 1, {"content_sample": "../../etc/passwd"}, "unknown sample '../../etc/passwd'"),
        (True, 0, {"style_samples": "mona_lisa"}, "unknown sample 'mona_lisa'"),
    ],
)
def test_missing_or_unknown_inputs(server, content, styles, samples, expected):
    client = server()
    response = post(client, png(64, 64) if content else None, (png(64, 64),) * styles, **samples)
    assert error(response, 422).startswith(expected)
    assert nothing_queued(client)


def test_a_too_small_image_is_refused_with_its_upload_name(server):
    message = error(post(server(), png(20, 20), (png(64, 64),), name="thumb.png"), 422)
    assert message.startswith("content image the photo (thumb.png) is 20x20 px; VGG19 needs at least 32 px")


def test_a_full_queue(server):
    client = server(max_queue=2)
    for _ in range(2):
        assert post(client, png(64, 64), (png(64, 64),)).status_code == 201
    response = post(client, png(64, 64), (png(64, 64),))
    assert error(response, 429) == "the queue is full (2 jobs waiting); try again later"
    assert response.headers["retry-after"] == "30"
    assert client.get("/api/health").json()["queued"] == 2


# These reach the job handlers: the server decodes them to "..", "../../etc/passwd" (a backslash
# path), "\n.." and so on, which the id check refuses before any path is made.
@pytest.mark.parametrize(
    ("job_id", "shown"),
    [
        ("0" * 32, "'" + "0" * 32 + "'"),
        ("nope", "'nope'"),
        ("%2e%2e", "'..'"),
        ("..%5C..%5Cetc%5Cpasswd", "'..\\\\..\\\\etc\\\\passwd'"),
        ("%0A..%00", "'..'"),
        ("a" * 60, "'" + "a" * 40 + "...'"),
    ],
)
@pytest.mark.parametrize("tail", ["", "/result", "/preview", "/thumbnail", "/events"])
def test_unknown_and_path_traversal_ids_find_nothing(server, job_id, shown, tail):
    assert error(server().get(f"/api/jobs/{job_id}{tail}"), 404) == f"no such job: {shown}"


# Slashes, encoded or not, never reach a job handler: no route has a slash in its id.
@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/..%2F..%2Fetc%2Fpasswd/result",
        "/api/jobs/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_slashes_in_ids_match_no_route(server, path):
    response = server().get(path)
    assert response.status_code == 404 and "root:" not in response.text


def test_path_traversal_through_static_files_and_delete(server):
    client = server()
    for path in [
        "/static/../../../../etc/passwd",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ]:
        response = client.get(path)
        assert response.status_code == 404 and "root:" not in response.text
    assert error(client.delete("/api/jobs/..%2F..%2Fjobs"), 404)
    assert error(client.delete("/api/jobs/%2e%2e", params={"purge": 1}), 404) == "no such job: '..'"


def test_an_uploaded_name_is_never_a_path(server, tmp_path):
    client = server()
    response = post(client, png(64, 64), (png(64, 64),), name="../../../escape.png")
    assert response.status_code == 201 and response.json()["content_name"] == "escape.png"
    assert not list(tmp_path.rglob("escape.png"))
    files = sorted(p.name for p in (tmp_path / "data" / "jobs" / response.json()["id"]).iterdir())
    assert files == ["content", "job.json", "style-1"]


def test_the_store_refuses_ids_that_are_not_its_own(tmp_path):
    store = JobStore(tmp_path, max_queue=1)
    for job_id in ["../x", "0" * 31, "0" * 32 + "/..", "A" * 32]:
        with pytest.raises(KeyError):
            store.folder(job_id)


def test_a_token_guards_the_api_and_the_page_keeps_it_in_a_cookie(server):
    client = server(token="s3cret-token")
    assert client.get("/api/health").status_code == 200  # open, for monitoring
    assert client.get("/").status_code == 200  # the page itself holds nothing
    response = client.get("/api/jobs")
    assert "needs its token" in error(response, 401) and response.headers["www-authenticate"] == "Bearer"
    assert error(client.get("/api/jobs", headers={"Authorization": "Bearer wrong-token"}), 401)
    assert client.get("/api/jobs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    login = client.get("/?token=s3cret-token", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=Strict" in login.headers["set-cookie"]
    assert client.get("/api/jobs").status_code == 200  # the cookie now
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 200  # no cookie for a wrong one


def test_cross_site_posts_and_deletes_are_refused(server):
    client = server()
    response = client.post(
        "/api/jobs",
        data={"content_sample": "tubingen", "style_samples": "starry_night"},
        headers={"Origin": "http://evil.example"},
    )
    assert error(response, 403) == "cross-site requests are refused"
    assert nothing_queued(client)
    same = client.post(
        "/api/jobs",
        data={"content_sample": "tubingen", "style_samples": "starry_night", **TINY},
        headers={"Origin": "http://testserver"},
    )
    assert same.status_code == 201


def test_a_loopback_server_refuses_other_host_names(tmp_path):
    app = create_app(
        ServerSettings(data_dir=tmp_path), allowed_hosts=listening("::1", 8000, None).allowed_hosts, run_jobs=False
    )
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST", "[0:0:0:0:0:0:0:1]:8000"):
            assert client.get("/api/health", headers={"Host": host}).status_code == 200, host
        for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.nip.io:8000", ""):
            response = client.get("/api/health", headers={"Host": host})
            assert error(response, 400) == "this server answers only to its own address"  # DNS rebinding


@pytest.mark.parametrize("token", ["short", "abc;defgh", "has space in it", "percent%20encoded", "ünïcödé-token"])
def test_a_token_that_cannot_travel_in_a_link_or_cookie_is_refused(tmp_path, token):
    with pytest.raises(ValueError, match="at least 8 characters of A-Z"):
        ServerSettings(data_dir=tmp_path, token=token)


def test_the_api_page_is_served_from_local_files(server):
    client = server()
    html = client.get("/docs").text
    assert "/docs-static/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result", "/api/jobs/{job_id}/events"} <= set(paths)
    assert {"post", "get"} <= set(paths["/api/jobs"]) and "delete" in paths["/api/jobs/{job_id}"]
    page = client.get("/jobs/" + "0" * 32).text  # a job's address is the page, which then asks the API
    assert 'src="/static/app.js"' in page and "http" not in page.split("<body>")[0].replace('name="viewport"', "")


def test_a_job_still_running_at_shutdown_is_handed_back_to_the_front_of_the_queue(tmp_path):
    from impasto.web.jobs import Job
    from impasto.web.settings import JobOptions

    store = JobStore(tmp_path, max_queue=4)
    ids = []
    for _ in range(2):
        job_id, staged = store.staging()
        store.add(Job(job_id, JobOptions(), "photo", ["painting"], ["style-1"]), staged)
        ids.append(job_id)
    running = store.next(timeout=0)
    assert running.id == ids[0] and store.public(ids[1])["position"] == 1
    store.hand_back_running()  # what Worker.stop does when a step outlasts its wait
    assert [store.public(i)["position"] for i in ids] == [1, 2]
    again = JobStore(tmp_path, max_queue=4)
    again.load()
    assert [again.public(i)["state"] for i in ids] == ["queued", "queued"]
    assert again.next(timeout=0).id == ids[0]


def test_an_ipv6_loopback_in_any_spelling_answers_to_its_browsers_address(tmp_path):
    where = listening("0:0:0:0:0:0:0:1", 8000, None)
    app = create_app(ServerSettings(data_dir=tmp_path), allowed_hosts=where.allowed_hosts, run_jobs=False)
    with TestClient(app) as client:
        assert client.get("/api/health", headers={"Host": "[::1]:8000"}).status_code == 200


def test_scripts_are_served_as_javascript_whatever_the_platform_says(server):
    client = server()
    for name in ("app.js", "common.js", "form.js", "job.js"):
        assert client.get(f"/static/{name}").headers["content-type"].startswith("text/javascript"), name
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_an_unfinished_job_is_cancelled_before_it_can_be_purged(server):
    client = server()
    job = post(client, png(64, 64), (png(64, 64),)).json()
    response = client.delete(f"/api/jobs/{job['id']}", params={"purge": 1})
    assert error(response, 409) == f"job {job['id']} is queued; cancel it before deleting it"
    assert client.delete(f"/api/jobs/{job['id']}").json()["status"] == "cancelled"
    assert client.delete(f"/api/jobs/{job['id']}", params={"purge": 1}).json()["status"] == "deleted"
    assert nothing_queued(client)


def test_a_record_whose_id_is_not_its_folders_is_skipped_on_start(tmp_path, caplog):
    import json as jsonlib

    folder = tmp_path / "data" / "jobs" / ("a" * 32)
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(
        jsonlib.dumps(
            {"id": "../../elsewhere", "options": {}, "content_name": "x", "style_names": [], "style_files": []}
        )
    )
    logger = logging.getLogger("impasto")  # the CLI's tests may have stopped it propagating to the root
    logger.addHandler(caplog.handler)
    try:
        with TestClient(create_app(ServerSettings(data_dir=tmp_path / "data"), run_jobs=False)) as client:
            assert client.get("/api/jobs").json() == []
    finally:
        logger.removeHandler(caplog.handler)
    assert "is not its folder's" in caplog.text
