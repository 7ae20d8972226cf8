"""End to end in headless Chromium: the whole stack, a person filling the Predict form, every page shot.

Debian's chromium package drives it (`apt-get install chromium`); Playwright's own browser download
is never used. Every page is shot at 1400 px into .run/screenshots/ (ignored by git), or into
SCREENSHOTS_DIR when set: `make screenshots` points it at docs/screenshots/ to refresh the README's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from model_store.data import load_attrition
from tests.stack import ROOT, free_port, stop, wait_http
from tests.ui.conftest import APP, Stack, screenshots_dir

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = screenshots_dir(os.environ)
VIEWPORT = {"width": 1400, "height": 1500}
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def stack_env(trained_store: Path) -> dict[str, str]:
    """The four real trained models: the end-to-end path never runs on stand-ins."""
    return {"ENV": "dev", "MODEL_STORE_DIR": str(trained_store)}


@pytest.fixture(scope="module")
def dashboard(stack: Stack) -> Iterator[str]:
    """`streamlit run ui/app.py` against the module's stack; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "FUTURISYS_API_URL": stack.api_url,
        "FUTURISYS_API_KEY": stack.api_key,
        "PYTHONUNBUFFERED": "1",
    }
    log = open(stack.logs / "streamlit.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", APP,
            "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/_stcore/health", proc, timeout=60)
        yield base
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def requested_hosts() -> set[str]:
    """Every host the browser sent a request to while on the dashboard."""
    return set()


@pytest.fixture(scope="module")
def page(dashboard: str, requested_hosts: set[str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            tab = browser.new_page(viewport=VIEWPORT)
            tab.on("request", lambda request: requested_hosts.add(host_of(request.url)))
            tab.set_default_timeout(WAIT_MS)
            tab.goto(dashboard)
            yield tab
        finally:
            browser.close()


def host_of(url: str) -> str:
    """'host:port' of a network URL; '' for data:, blob: and the like, which leave no machine."""
    parts = urlsplit(url)
    return parts.netloc if parts.scheme in ("http", "https", "ws", "wss") else ""


PAGE_URLS_JS = """() => [
    ...[...document.querySelectorAll('[src], link[href]')].map(e => e.src || e.href),
    ...performance.getEntriesByType('resource').map(e => e.name),
]"""


def hosts_in_page(page) -> set[str]:
    """Hosts the open page links to or loaded from: the favicon too, which the request event may miss."""
    return {host_of(url) for url in page.evaluate(PAGE_URLS_JS)}


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def settle(page) -> None:
    """Wait until Streamlit has finished running the script, then give the charts a moment to draw."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()
    page.wait_for_timeout(1000)


def no_tracebacks(page) -> None:
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in page.inner_text("body")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_person_predicts_then_visits_every_page(
    page, dashboard: str, requested_hosts: set[str], tmp_path: Path
) -> None:
    # Predict: fill in part of the profile, submit, read the answer.
    page.get_by_role("heading", name="Predict attrition").wait_for()
    age = page.get_by_label("Age", exact=True)
    age.fill("29")
    age.press("Tab")
    choose(page, "Over time", "Yes")
    choose(page, "Marital status", "Single")
    page.get_by_role("button", name="Predict", exact=True).click()
    leave, stay = (page.get_by_text(verdict, exact=True) for verdict in ("Likely to leave", "Likely to stay"))
    verdict = leave.or_(stay)
    verdict.wait_for()
    page.get_by_text("Probability of leaving").wait_for()
    page.get_by_text("Answered by version").wait_for()
    assert page.get_by_text("Submit → result").is_visible()
    settle(page)
    no_tracebacks(page)
    shoot(page, "predict")
    requested_hosts.update(hosts_in_page(page))

    # Batch: upload a small file, send it, see the summary.
    go_to(page, "Batch")
    page.get_by_role("heading", name="Batch predictions").wait_for()
    csv = tmp_path / "team.csv"
    # Sixty real employees of the training data: enough for the Monitoring page to measure drift.
    team = load_attrition().X.sample(60, random_state=1).reset_index(drop=True)
    team.insert(0, "employee_id", [f"E{i:03d}" for i in range(len(team))])
    team.to_csv(csv, index=False)
    page.get_by_role("region", name="CSV file").locator("input[type=file]").set_input_files(str(csv))
    page.get_by_text("is valid").wait_for()
    page.get_by_role("button", name="Send 60 predictions").click()
    page.get_by_role("button", name="Download results (CSV)").wait_for()
    settle(page)
    no_tracebacks(page)
    shoot(page, "batch")
    requested_hosts.update(hosts_in_page(page))

    # History: the requests are there; open one.
    go_to(page, "History")
    page.get_by_role("heading", name="History").wait_for()
    choose_first = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("From this page", exact=True)
    )
    choose_first.click()
    page.get_by_role("option").first.click()
    page.get_by_text("Features", exact=True).wait_for()
    settle(page)
    no_tracebacks(page)
    shoot(page, "history")
    requested_hosts.update(hosts_in_page(page))

    # Monitoring: charts of the traffic just made.
    go_to(page, "Monitoring")
    page.get_by_role("heading", name="Throughput").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    settle(page)
    no_tracebacks(page)
    shoot(page, "monitoring")
    requested_hosts.update(hosts_in_page(page))

    # Models: every deployed model, the default marked.
    go_to(page, "Models")
    page.get_by_role("heading", name="Deployed models").wait_for()
    settle(page)
    no_tracebacks(page)
    shoot(page, "models")
    requested_hosts.update(hosts_in_page(page))

    # Nothing was fetched from anywhere but the machine serving the dashboard (no font host, no CDN).
    assert requested_hosts - {"", urlsplit(dashboard).netloc} == set()
