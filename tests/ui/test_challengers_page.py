"""The Models page's challengers: a model scored in the shadow of the default shows its comparison with the
default on the same live requests, as the API computes it; without a shadow the page
says how to start one. Streamlit's AppTest against a real API, listener and database."""

from __future__ import annotations

import httpx
from streamlit.testing.v1 import AppTest

from model_store.shadows import start_shadow
from tests.employees import EMPLOYEE
from tests.listener.helpers import wait_until
from tests.listener.test_shadows import register_stand_in
from tests.ui.conftest import APP, Stack
from ui.challengers import auc_frame, verdict

TIMEOUT = 60  # a script run on a busy machine; a run ends when the script does


def models_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/models.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind]
    return "\n".join(str(p) for p in parts)


def shadow_rows(stack: Stack) -> int:
    import psycopg

    with psycopg.connect(stack.db_url) as conn:
        row = conn.execute("SELECT count(*) FROM shadow_predictions").fetchone()
    return row[0] if row else 0


# The module shares one stack: this test runs first (file order), before any shadow exists.
def test_without_a_shadow_the_page_says_how_to_start_one(ui_env: Stack) -> None:
    at = models_page()
    assert "No model runs in the shadow of the default" in texts(at)
    assert "python -m model_store shadow logistic" in texts(at)


def test_a_shadowed_challenger_is_compared_with_the_default_as_the_api_computes_it(ui_env: Stack) -> None:
    import psycopg

    with psycopg.connect(ui_env.db_url, autocommit=True) as conn:
        register_stand_in(conn, "logistic")
    start_shadow(ui_env.db_url, "logistic", actor="ui-test")
    ids = []
    for i in range(80):  # the first answers may come before the listener reloads its shadows
        employee = {**EMPLOYEE, "age": 20 + i % 40, "over_time": "Yes" if i % 3 else "No"}
        ids.append(ui_env.predict(employee)["request_id"])
    assert wait_until(lambda: shadow_rows(ui_env) > 40, 20), ui_env.log_text()
    outcomes = [{"request_id": rid, "label": int(i % 3 != 0 and i % 40 < 15)} for i, rid in enumerate(ids)]
    posted = httpx.post(
        f"{ui_env.api_url}/outcomes",
        json={"items": outcomes},
        headers={"X-API-Key": ui_env.api_key},
        timeout=15,
    )
    assert posted.status_code == 200, posted.text
    figures = httpx.get(
        f"{ui_env.api_url}/models/compare", params={"challenger": "logistic"}, timeout=15
    ).json()
    assert figures["paired"] > 40 and figures["challenger_roc_auc"] is not None

    at = models_page()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Paired requests"] == f"{figures['paired']:,}"
    assert shown["Same decision"] == f"{figures['agreement']:.1%}"
    assert shown["p-value (DeLong)"] == ("—" if figures["p_value"] is None else f"{figures['p_value']:.3g}")
    assert verdict(figures) in texts(at)
    assert "**logistic** (version test-1) against the default" in texts(at)


def test_the_pure_parts_say_what_the_figures_mean() -> None:
    figures = {
        "challenger": "logistic",
        "note": None,
        "labelled": 400,
        "roc_auc_difference": 0.04,
        "p_value": 0.01,
        "primary_roc_auc": 0.80,
        "challenger_roc_auc": 0.84,
    }
    assert "significantly better" in verdict(figures) and "p = 0.01" in verdict(figures)
    assert "No significant difference" in verdict({**figures, "p_value": 0.2})
    assert "significantly worse" in verdict({**figures, "roc_auc_difference": -0.04})
    assert list(auc_frame(figures)["ROC-AUC"]) == [0.80, 0.84]
    assert auc_frame({**figures, "primary_roc_auc": None, "challenger_roc_auc": None}).empty
