"""In headless Chromium, on the four real models: open a request in History and see its factors chart."""

from __future__ import annotations

from pathlib import Path

from tests.employees import EMPLOYEE
from tests.ui.browser import BROWSER, dashboard, no_tracebacks, page, requested_hosts, settle, stack_env
from tests.ui.conftest import Stack

__all__ = ["dashboard", "page", "requested_hosts", "stack_env"]  # fixtures of this module
pytestmark = BROWSER


def test_history_shows_the_factors_chart_of_an_opened_request(page, stack: Stack, tmp_path: Path) -> None:
    made = stack.predict({**EMPLOYEE, "over_time": "Yes", "job_satisfaction": "Low"}, model_name="logistic")
    page.get_by_test_id("stSidebarNav").get_by_text("History", exact=True).click()
    page.get_by_role("heading", name="History").wait_for()
    typed = page.get_by_label("Request id", exact=True)
    typed.fill(made["request_id"])
    typed.press("Enter")
    page.get_by_text("Why: the top factors").wait_for()
    page.get_by_text("raised the risk most").wait_for()
    settle(page)
    no_tracebacks(page)
    charts = page.locator("[data-testid='stVegaLiteChart']")
    assert charts.count() == 1, "the factors chart"
    chart = charts.first
    assert chart.is_visible() and chart.bounding_box()["height"] > 100
    # The bars are labelled in the analyst's words, with the employee's value.
    assert "Works overtime = Yes" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "history-factors.png"), full_page=True)
