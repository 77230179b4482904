"""The page in a real browser: Playwright drives Debian's Chromium against a real server."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from impasto.web.app import create_app
from impasto.web.live import serving
from impasto.web.settings import ServerSettings

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("web"), preview_interval=0.25)
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_upload_watch_the_preview_change_and_download_the_png(page, browser, base_url):
    page.goto(base_url)
    page.wait_for_selector("#content-samples .sample")  # the form is drawn from /api/options
    assert page.input_value("#size") == "512"  # the config's default
    page.set_input_files("#content-file", str(EXAMPLES / "tubingen.jpg"))
    page.set_input_files("#style-files", str(EXAMPLES / "starry_night.jpg"))
    assert page.locator("#content-picked .chip span").inner_text() == "tubingen.jpg"
    page.fill("#size", "64")
    page.fill("#iterations", "120")
    page.click("#start")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{32}$"))
    job_url = page.url

    page.wait_for_function("Number(document.getElementById('preview').dataset.loads) >= 1", timeout=60_000)
    first = page.get_attribute("#preview", "src")
    # Another tab on the job's address shows the same live job.
    other = browser.new_page()
    other.goto(job_url)
    other.wait_for_function("/Painting|Done/.test(document.getElementById('status').textContent)", timeout=30_000)
    other.close()

    page.wait_for_function("Number(document.getElementById('preview').dataset.loads) >= 3", timeout=60_000)
    assert page.get_attribute("#preview", "src") != first  # the preview changed at least twice
    page.wait_for_selector("#download:visible", timeout=120_000)
    assert page.inner_text("#status").startswith("Done: 64×48 px")
    assert page.evaluate("document.getElementById('fill').style.width") == "100%"
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename.endswith(".png")
    image = Image.open(io.BytesIO(Path(download.path()).read_bytes()))
    assert image.format == "PNG" and image.size == (64, 48)

    page.reload()  # the job's address still shows it, and the gallery lists it
    page.wait_for_selector("#download:visible")
    assert page.inner_text("#status").startswith("Done")
    page.wait_for_selector("#results .card")  # the gallery loads on its own request, after the job
    assert page.locator("#results .card").count() >= 1


def test_a_bad_upload_shows_the_servers_error_on_the_page(page, base_url):
    page.goto(base_url)
    page.wait_for_selector("#style-samples .sample")
    page.set_input_files(
        "#content-file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"this is not a picture"}]
    )
    page.click("#style-samples .sample >> nth=0")
    page.fill("#size", "64")
    page.click("#start")
    page.wait_for_selector("#form-error:visible")
    assert page.inner_text("#form-error") == "the photo (notes.png): not an image file that Pillow can read"
    assert page.url.rstrip("/") == base_url  # no job was made


def test_a_size_over_the_servers_limit_is_stopped_on_the_page(page, base_url):
    page.goto(base_url)
    page.wait_for_selector("#content-samples .sample")
    page.click("#content-samples .sample >> nth=0")
    page.click("#style-samples .sample >> nth=0")
    page.fill("#size", "99999")
    page.click("#start")
    assert page.inner_text("#form-error") == "Size must be a whole number from 32 to 2048."


def test_the_queue_place_and_cancel_on_the_page(browser, base_url):
    first, second = browser.new_page(), browser.new_page()
    for page in (first, second):
        page.goto(base_url)
        page.wait_for_selector("#content-samples .sample")
        page.click("#content-samples .sample >> nth=0")
        page.click("#style-samples .sample >> nth=0")
        page.fill("#size", "64")
        page.fill("#iterations", "2000")
        page.click("#start")
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{32}$"))
    first.wait_for_function("/Painting · step/.test(document.getElementById('status').textContent)", timeout=60_000)
    second.wait_for_function("document.getElementById('status').textContent === 'Waiting: next in line'")
    second.click("#cancel")
    second.wait_for_function("document.getElementById('status').textContent === 'Cancelled'")
    assert second.locator("#cancel").is_hidden() and second.locator("#download").is_hidden()
    first.click("#cancel")
    first.wait_for_function("document.getElementById('status').textContent === 'Cancelled'", timeout=30_000)
    assert first.locator("#preview").is_visible()  # where it got to stays on the page
    for page in (first, second):
        page.close()
