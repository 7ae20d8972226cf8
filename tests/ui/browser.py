"""The browser tests' shared parts: a real-model stack, the dashboard, one headless Chromium tab, and
what a reader would see as broken on a page (clipped text, cut tables, 12-hour times).

Debian's chromium package drives it (`apt-get install chromium`); Playwright's own browser download
is never used. A browser test module imports the fixtures it needs from here (and `BROWSER` as its
pytestmark), so no test module imports another.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.stack import ROOT, free_port, stop, wait_http
from tests.ui.conftest import APP, Stack, screenshots_dir

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = screenshots_dir(os.environ)
WIDTH = 1400
VIEWPORT = {"width": WIDTH, "height": 1500}
WAIT_MS = 60_000  # what a page waits for on a busy machine (it ends when the element shows)

BROWSER = [
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
        "FUTURISYS_API_TIMEOUT": "30",  # generous on a busy machine (the defaults suit a laptop)
        "FUTURISYS_PREDICT_WAIT": "30",
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
        wait_http(base + "/_stcore/health", proc, timeout=120)
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
    """One Chromium tab, 1400 px wide, on the dashboard; every host it asks is recorded."""
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


CHARTS_DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .every(c => c.querySelector('svg text'))"""


def settle(page) -> None:
    """Wait until Streamlit has finished running the script and every chart has drawn its text."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()
    page.wait_for_timeout(1000)
    page.wait_for_function(CHARTS_DRAWN_JS)


def no_tracebacks(page) -> None:
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in page.inner_text("body")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


# Text a reader cannot read whole: an element showing text (a select box shows its choice in an
# input) whose content is wider than its box while its overflow hides or scrolls the rest (an
# ellipsis "47.4 …", a choice cut mid-word). Charts and tables are checked on their own below.
CLIPPED_JS = """() => {
    const out = [];
    for (const e of document.querySelectorAll('[data-testid="stMain"] *')) {
        if (!e.offsetParent || e.closest('[data-testid="stVegaLiteChart"], [data-testid="stDataFrame"]')) {
            continue;
        }
        if (e.matches('input[type=file]')) continue;  // its value is a path the page never shows
        const text = (e.tagName === 'INPUT' ? e.value : e.innerText || '').trim();
        if (!text) continue;
        const style = getComputedStyle(e);
        if (style.fontFamily.includes('Material')) continue;  // an icon's ligature name, drawn as a glyph
        if (e.clientWidth <= 1) continue;  // words for screen readers only, hidden in a 1 px box
        const hides = ['hidden', 'clip', 'auto', 'scroll'].includes(style.overflowX)
            || style.textOverflow === 'ellipsis';
        if (hides && e.scrollWidth > e.clientWidth + 1) out.push(text.slice(0, 60));
    }
    return out;
}"""

# A table whose columns do not fit its frame: the grid scrolls sideways, the last columns are out of sight.
CUT_TABLES_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
    .filter(t => t.offsetParent)
    .map(t => [t, t.querySelector('.dvn-scroller')])
    .filter(([t, s]) => s && s.scrollWidth > s.clientWidth + 1)
    .map(([t, s]) => (t.innerText || '').slice(0, 80) + ` (${s.scrollWidth} px in ${s.clientWidth} px)`)"""

# Every word a reader sees: the page's text, the charts' axis and legend labels (SVG text), and the
# tables' cells (the grid draws on a canvas; its accessible copy holds the text).
READABLE_TEXT_JS = """() => [
    document.querySelector('[data-testid="stMain"]').innerText,
    ...[...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg text')].map(t => t.textContent),
    ...[...document.querySelectorAll('[data-testid="stDataFrame"] table :is(td, th)')]
        .map(c => c.textContent),
].join('\\n')"""

# Chart labels Vega shortened (it ends them with an ellipsis: "total_working_ye…") or that stick out
# of the chart's drawing, where the reader sees them cut ("unkno").
CUT_CHART_LABELS_JS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')]
    .flatMap(svg => {
        const box = svg.closest('[data-testid="stVegaLiteChart"]').getBoundingClientRect();
        return [...svg.querySelectorAll('text')].filter(t => {
            const r = t.getBoundingClientRect();
            const out = r.width > 0 && (r.left < box.left - 4 || r.right > box.right + 4);  // glyph slack
            return out || t.textContent.endsWith('…');
        }).map(t => t.textContent);
    })"""

# Table cells that say a value is missing in a programmer's words.
NONE_CELLS_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] table td')]
    .map(c => c.textContent.trim()).filter(t => ['None', 'nan', 'NaN', 'NaT', 'null'].includes(t))"""

TWELVE_HOUR = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:AM|PM)\b", re.IGNORECASE)


def readable_text(page) -> str:
    return page.evaluate(READABLE_TEXT_JS)


def assert_readable(page, name: str) -> None:
    """What a reader of the page at 1400 px must never meet: cut text, cut tables, a 12-hour clock."""
    clipped = page.evaluate(CLIPPED_JS)
    assert clipped == [], f"{name}: text cut off at {WIDTH} px: {clipped}"
    cut = page.evaluate(CUT_TABLES_JS)
    assert cut == [], f"{name}: tables wider than their frame at {WIDTH} px: {cut}"
    cut_labels = page.evaluate(CUT_CHART_LABELS_JS)
    assert cut_labels == [], f"{name}: chart labels cut short: {cut_labels}"
    none_cells = page.evaluate(NONE_CELLS_JS)
    assert none_cells == [], f"{name}: table cells that read {sorted(set(none_cells))} instead of blank or —"
    twelve = TWELVE_HOUR.findall(readable_text(page))
    assert twelve == [], f"{name}: times on a 12-hour clock (the dashboard says UTC, 24 h): {twelve}"


def page_done(page, name: str, requested_hosts: set[str]) -> None:
    """A page has drawn: no traceback, shot into SHOTS, its hosts noted, and nothing on it cut or 12-hour."""
    settle(page)
    no_tracebacks(page)
    shoot(page, name)  # before the checks, so a failure leaves the picture of what failed
    requested_hosts.update(hosts_in_page(page))
    assert_readable(page, name)
