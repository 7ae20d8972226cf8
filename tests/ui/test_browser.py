"""End to end in headless Chromium: the whole stack, a person filling the Predict form, every page shot.

Every page is shot at 1400 px into .run/screenshots/ (ignored by git), or into SCREENSHOTS_DIR when
set (`make screenshots` refreshes the README's docs/screenshots/ from them), and checked for what a
reader would see as broken: clipped text, tables cut at the edge, times on a 12-hour clock.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from model_store.data import load_attrition
from tests.ui.browser import (
    BROWSER,
    choose,
    dashboard,
    go_to,
    page,
    page_done,
    readable_text,
    requested_hosts,
    settle,
    stack_env,
)
from ui.feature_schema import LABELS

__all__ = ["dashboard", "page", "requested_hosts", "stack_env"]  # fixtures of this module
pytestmark = BROWSER


def test_a_person_predicts_then_visits_every_page(
    page, dashboard: str, requested_hosts: set[str], tmp_path: Path
) -> None:
    # Predict: fill in part of the profile, submit, read the answer.
    page.get_by_role("heading", name="Predict attrition").wait_for()
    age = page.get_by_label("Age", exact=True)
    age.fill("29")
    age.press("Tab")
    choose(page, "Works overtime", "Yes")
    choose(page, "Marital status", "Single")
    page.get_by_role("button", name="Predict", exact=True).click()
    leave, stay = (page.get_by_text(verdict, exact=True) for verdict in ("Likely to leave", "Likely to stay"))
    verdict = leave.or_(stay)
    verdict.wait_for()
    page.get_by_text("Probability of leaving").wait_for()
    page.get_by_text("Answered by version").wait_for()
    assert page.get_by_text("Submit → result").is_visible()
    page_done(page, "predict", requested_hosts)

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
    download = page.get_by_role("button", name="Download results (CSV)")
    download.wait_for()
    page_done(page, "batch", requested_hosts)
    with page.expect_download() as saved:
        download.click()
    assert saved.value.suggested_filename == "team_predictions.csv"
    settle(page)
    # After the download: the finished bar still there, once, and one ordering control.
    bar = page.get_by_test_id("stProgress")
    assert bar.count() == 1 and "Done: 60 rows sent and 60 answered" in bar.inner_text()
    assert page.get_by_text("Highest risk first", exact=True).count() == 1

    # History: the requests are there; open one.
    go_to(page, "History")
    page.get_by_role("heading", name="History").wait_for()
    choose_first = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("From this page", exact=True)
    )
    choose_first.click()
    page.get_by_role("option").first.click()
    page.get_by_text("Features", exact=True).wait_for()
    page_done(page, "history", requested_hosts)

    # Monitoring: charts of the traffic just made.
    go_to(page, "Monitoring")
    page.get_by_role("heading", name="Throughput").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    page_done(page, "monitoring", requested_hosts)
    # The drift chart names every one of the 30 features, in words.
    drawn = set(readable_text(page).splitlines())
    assert [label for label in LABELS.values() if label not in drawn] == []

    # Performance: no outcome yet, and nothing reads None.
    go_to(page, "Performance")
    page.get_by_role("heading", name="Performance").wait_for()
    page.get_by_text("No outcome has been posted").wait_for()
    page_done(page, "performance", requested_hosts)

    # Models: every deployed model, the default marked.
    go_to(page, "Models")
    page.get_by_role("heading", name="Deployed models").wait_for()
    page_done(page, "models", requested_hosts)

    # Nothing was fetched from anywhere but the machine serving the dashboard (no font host, no CDN).
    assert requested_hosts - {"", urlsplit(dashboard).netloc} == set()
