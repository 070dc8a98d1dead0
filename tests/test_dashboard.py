"""The dashboard in headless Chromium (Debian's chromium) against a real API (uvicorn on a free port) and a real
store: what a person sees — both charts drawn, the heat map, what costs the score, the agents table, the alert
listed, a new alert appearing by polling, the token prompt — and a screenshot (DASHBOARD_SCREENSHOT, default
build/test-artifacts/dashboard.png).

Skips with the reason when chromium or the playwright package is missing, except under REQUIRE_CHROMIUM=1 (CI),
where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from insights.api import create_api
from insights.settings import Settings
from insights.store import InsightStore
from insights.store.sample import RISE_AGENT, build_sample, load_sample

TOKEN = "dash-token"
SCREENSHOT = Path(os.environ.get("DASHBOARD_SCREENSHOT", "build/test-artifacts/dashboard.png"))
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--disable-dev-shm-usage"]


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    reason = None
    if not path:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"REQUIRE_CHROMIUM=1 but {reason}")
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, InsightStore]]:
    import uvicorn

    store = InsightStore.from_url(sqlite_url)
    load_sample(store, build_sample())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(Settings(api_token=TOKEN), store), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", store
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # playwright runs it headless with a fresh temporary profile (its own --user-data-dir)
        b = p.chromium.launch(executable_path=executable, headless=True, args=BROWSER_ARGS)
        yield b
        b.close()


def test_dashboard_shows_charts_heatmap_agents_and_live_alerts(served, browser) -> None:
    url, store = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{url}?poll=1&days=3#token={TOKEN}")
    page.wait_for_selector("body[data-loaded='1']", timeout=15_000)

    # trend chart of the top themes: several lines with real geometry, and a legend naming them
    lines = page.locator("#trend-chart path.series")
    assert lines.count() == 6
    assert all(len(lines.nth(i).get_attribute("d")) > 100 for i in range(lines.count()))
    assert page.locator("#trend-chart").bounding_box()["height"] > 200
    assert "great service" in page.inner_text("#trend-legend")
    # empathy share chart and its summary
    assert page.locator("#empathy-chart path.series").count() == 1
    assert "feedback items" in page.inner_text("#empathy-summary")
    # heat map: six journey stages as columns, shares in the cells
    assert page.locator("#heatmap thead th").count() == 7
    assert page.locator("#heatmap td.cell").count() == 8 * 6
    assert "%" in page.inner_text("#heatmap td.cell >> nth=0")
    # top themes per agent: the agent with the injected rise shows rude agent among its top themes
    row = page.locator("#agents tbody tr", has_text=RISE_AGENT)
    assert "rude agent" in row.inner_text()
    assert page.locator("#agents tbody tr").count() == 12
    # what costs the score most: the API's ranking over the same range, most points lost first
    impact = page.locator("#impact tbody tr")
    assert impact.count() == 8
    shown = [impact.nth(i).get_attribute("data-theme") for i in range(impact.count())]
    lost = [float(impact.nth(i).locator("td").nth(3).inner_text().split()[0]) for i in range(impact.count())]
    assert lost == sorted(lost, reverse=True) and lost[0] > 0.5
    assert "praise" not in shown and " vs " in impact.first.inner_text()
    assert "points higher" in impact.first.get_attribute("title")  # the plain-language sentence
    assert "scored feedback items in the range, average score" in page.inner_text("#impact-summary")
    # the alert feed lists the alert for that agent, with its evidence
    alerts = page.locator("#alerts li")
    assert alerts.count() == len(build_sample().alerts)
    feed = page.inner_text("#alerts")
    assert f"rude agent · agent {RISE_AGENT}" in feed and "observed vs" in feed and "expected" in feed

    # a new alert arrives in the store: the page lists it by polling, marked new, without a reload
    store.upsert_alerts([{
        "alert_id": "live-1", "theme_id": "robotic", "theme_label": "robotic / scripted",
        "empathy_category": "robotic", "dimensions": {"journey_stage": "billing"},
        "window_start": "2026-03-02T05:00:00Z", "window_end": "2026-03-02T06:30:00Z", "observed": 14,
        "expected": 4.0, "ratio": 3.5, "p_value": 1e-6, "z": 5.0, "severity": "critical",
        "quotes": ["it felt like talking to a robot"],
    }])
    page.wait_for_selector("#alerts li.new[data-alert-id='live-1']", timeout=10_000)
    assert page.locator("#alerts li").first.get_attribute("data-alert-id") == "live-1"
    assert "robotic / scripted · journey_stage billing" in page.inner_text("#alerts li >> nth=0")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 20_000
    assert errors == []
    assert all(r.startswith(url) or r.startswith("data:") for r in requests), "the page must work offline"


def test_dashboard_asks_for_the_token(served, browser) -> None:
    url, _ = served
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#token-form:not([hidden])", timeout=10_000)
    assert "token" in page.inner_text("#status")
    page.fill("#token", TOKEN)
    page.click("#token-form button")
    page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
    assert page.locator("#trend-chart path.series").count() > 0
