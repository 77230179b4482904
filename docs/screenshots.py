"""The README's screenshots of the web page: idle, mid-run and done, taken by Playwright in
Debian's Chromium against a real server with a fresh data folder.

    python docs/screenshots.py [--size 384] [--out docs]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from impasto.web.app import create_app
from impasto.web.live import serving
from impasto.web.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as data,
        serving(create_app(ServerSettings(data_dir=Path(data)))) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#content-samples .sample")
        page.set_input_files("#content-file", str(ROOT / "examples" / "tubingen.jpg"))
        page.click("#style-samples .sample >> nth=0")
        page.fill("#size", str(args.size))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=args.out / "web_idle.png", full_page=True)
        page.click("#start")
        page.wait_for_function(
            "(document.getElementById('fill').style.width || '0').replace('%', '') > 45", timeout=600_000
        )
        page.wait_for_timeout(600)  # let the newest preview load
        page.evaluate("window.scrollTo(0, 0)")  # the click scrolled to the button
        page.screenshot(path=args.out / "web_running.png", full_page=True)
        page.wait_for_selector("#download:visible", timeout=600_000)
        page.wait_for_timeout(800)
        page.screenshot(path=args.out / "web_done.png", full_page=True)
        browser.close()
    print(f"wrote {', '.join(f'web_{n}.png' for n in ('idle', 'running', 'done'))} in {args.out}")


if __name__ == "__main__":
    main()
