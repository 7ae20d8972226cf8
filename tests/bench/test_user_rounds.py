"""The user scenario's figures from its rounds: medians of the rounds, names kept (no timing here)."""

from __future__ import annotations

from bench.loadgen import WrkRun, pooled_percentile_ms
from bench.user_rounds import FLOOR_HTTP, Round, order, summarize


def run(p50: float, p99: float, requests: int = 100, max_ms: float | None = None) -> WrkRun:
    return WrkRun(requests, 1.0, p50, p99, max_ms or p99, 0, 0)


def one_round(db_ms: float, http: tuple[float, float], wait: tuple[float, float]) -> Round:
    return Round(
        floor_db_ms=[db_ms] * 99 + [db_ms * 3],  # p50 db_ms; the p99 lands between the two values
        runs={FLOOR_HTTP: run(*http), "submit_wait.logistic.c1": run(*wait)},
        load_1m=1.5,
    )


def test_each_figure_is_the_median_of_its_rounds_and_each_ratio_the_median_of_the_rounds_ratios() -> None:
    rounds = [
        one_round(1.0, (0.5, 1.0), (3.0, 30.0)),  # floor p50 1.5: ratios 2 and 20
        one_round(2.0, (1.0, 2.0), (3.0, 9.0)),  # floor p50 3.0: ratios 1 and 3
        one_round(1.0, (0.5, 1.0), (6.0, 12.0)),  # floor p50 1.5: ratios 4 and 8
    ]
    figures = summarize(rounds, ("logistic",))
    assert figures["user.floor.p50_ms"] == 1.5
    assert figures["user.rounds.floor"]["p50_ms"] == [1.5, 3.0, 1.5]
    wait = figures["user.wrk.submit_wait.logistic.c1"]
    assert (wait["p50_ms"], wait["p99_ms"], wait["max_ms"]) == (3.0, 12.0, 30.0)
    assert (wait["requests"], wait["per_s"], wait["rounds"]) == (300, 100, 3)
    assert figures["user.rounds.submit_wait_p50_over_floor.logistic"] == [2.0, 1.0, 4.0]
    assert figures["user.submit_wait_p50_over_floor.logistic"] == 2.0
    assert figures["user.rounds.submit_wait_p99_over_floor.logistic"] == [20.0, 3.0, 8.0]
    assert figures["user.submit_wait_p99_over_floor.logistic"] == 8.0  # over the floor's p50, as before
    floor_p99 = figures["user.rounds.floor"]["p99_ms"]
    assert all(p99 > p50 for p99, p50 in zip(floor_p99, [1.5, 3.0, 1.5], strict=True))
    over_p99 = figures["user.rounds.submit_wait_p99_over_floor_p99.logistic"]
    assert over_p99 == [round(w / f, 2) for w, f in zip([30.0, 9.0, 12.0], floor_p99, strict=True)]
    assert figures["user.rounds.load_1m"] == [1.5, 1.5, 1.5]


def test_odd_rounds_measure_in_the_reverse_order() -> None:
    names = ["floor", "a", "b"]
    assert order(names, 0) == names
    assert order(names, 1) == ["b", "a", "floor"]
    assert order(names, 2) == names


def test_the_pooled_p99_ranks_every_request_of_the_rounds_together_as_wrk_does() -> None:
    # wrk's rank for p99 of n requests: round(0.99 n + 0.5) in C, 100 of 100 and 199 of 200.
    first = WrkRun(100, 1.0, 1.0, 50.0, 50.0, 0, 0, histogram=((1000, 99), (50000, 1)))
    second = WrkRun(100, 1.0, 2.0, 2.0, 2.0, 0, 0, histogram=((2000, 100),))
    assert pooled_percentile_ms([first], 99) == 50.0  # one round: its own p99, as wrk printed it
    assert pooled_percentile_ms([first, second], 99) == 2.0  # the 199th of the 200 together
    assert pooled_percentile_ms([first, second], 50) == 2.0  # the 101st: wrk ranks one past the middle
    figures = summarize(
        [
            Round([1.0, 1.0], {FLOOR_HTTP: second, "submit_wait.logistic.c1": first}),
            Round([1.0, 1.0], {FLOOR_HTTP: second, "submit_wait.logistic.c1": second}),
        ],
        ("logistic",),
    )
    assert figures["user.wrk.submit_wait.logistic.c1"]["p99_ms_all"] == 2.0
    assert "p99_ms_all" not in figures_without_histograms()


def figures_without_histograms() -> dict:
    figures = summarize([one_round(1.0, (0.5, 1.0), (3.0, 30.0))], ("logistic",))
    return figures["user.wrk.submit_wait.logistic.c1"]
