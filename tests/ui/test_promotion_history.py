"""The Models page shows the promotions and rollbacks the audit trail recorded (issue 11, item 5)."""

from __future__ import annotations

import json

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import APP, Stack, create_api_key
from ui.promotion_history import promotion_rows

TIMEOUT = 60  # a script run on a busy machine; a run ends when the script does


def models_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def record(db_url: str, actor: str, action: str, details: dict) -> None:
    """An event as the model_deployments trigger writes it, with the actor and reason the CLI states."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "SELECT set_audit_context(%s, %s)", (actor, json.dumps({"reason": details.pop("reason")}))
        )
        conn.execute("SELECT audit(%s, 'logistic', %s)", (action, json.dumps(details)))


@pytest.fixture(scope="module")
def history(stack: Stack) -> Stack:
    record(
        stack.db_url,
        "cli:alice",
        "model.promoted",
        {"from_version": "a1", "to_version": "b2", "reason": "better CV"},
    )
    record(
        stack.db_url,
        "cli:bob",
        "model.rolled_back",
        {"from_version": "b2", "to_version": "a1", "reason": "live ROC-AUC fell"},
    )
    return stack


def test_the_models_page_lists_promotions_and_rollbacks_newest_first(history: Stack, ui_env: Stack) -> None:
    at = models_page()
    assert any(s.value == "Promotions and rollbacks" for s in at.subheader)
    [table] = [d.value for d in at.dataframe if "change" in d.value.columns]
    shown = table[["model", "change", "from version", "to version", "by", "reason"]].values.tolist()
    assert shown == [
        ["logistic", "rolled back", "b2", "a1", "cli:bob", "live ROC-AUC fell"],
        ["logistic", "promoted", "a1", "b2", "cli:alice", "better CV"],
    ]
    assert all(w.endswith(" UTC") and ("AM" not in w and "PM" not in w) for w in table["when"])


def test_a_key_that_may_not_read_the_trail_is_told_which_scope_it_needs(
    history: Stack, ui_env: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUTURISYS_API_KEY", create_api_key(history.db_url, "submit-only", "submit"))
    at = models_page()
    notes = [i.value for i in at.info]
    assert any("needs an API key with scope read or admin" in n and "'submit-only'" in n for n in notes), (
        notes
    )
    assert not any("change" in d.value.columns for d in at.dataframe)
    assert any(s.value == "Deployed models" for s in at.subheader), "the rest of the page still shows"


def test_a_missing_fact_shows_a_dash() -> None:
    table = promotion_rows([{"action": "model.promoted", "subject": "dummy", "details": {}, "at": None}])
    assert table.iloc[0].to_dict() == {
        "when": "—",
        "model": "dummy",
        "change": "promoted",
        "from version": "—",
        "to version": "—",
        "by": "—",
        "reason": "—",
    }
