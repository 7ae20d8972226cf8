"""The `user` scenario's single-connection and 16-connection figures, measured in rounds alternated
with the floor's.

One 5 s wrk run at one connection is ~2,300 requests, so its p99 is the 23rd slowest of them: one
hiccup of the shared machine moved it 2x between runs. So, as bench/partitions.py does for its
ratios, each figure is measured in several short rounds, and each round measures the floor (the raw
database round trip, then wrk against `GET /health/live`) beside the submit-and-wait runs, in the same
minutes; every other round runs in the reverse order, so a drift of the machine weighs on the floor and
on the targets alike. The reported figures are medians of the rounds:

- a run's `p50_ms` / `p99_ms`: the median of the rounds' p50s / p99s (`max_ms` the largest, `requests`
  the sum, `per_s` the sum over the summed seconds; `p99_ms_all`, at one connection, the p99 of all the
  rounds' requests together, from wrk's histograms: on a loaded machine a round holds few requests);
- the floor's `p50_ms` (`p99_ms`): the median of the rounds' database p50 + HTTP p50 (p99 + p99);
- a ratio to the floor: the median of the rounds' ratios, each round's figure over that round's floor
  (the target's definition is unchanged: p50 and p99 over the floor's p50; the p99 over the floor's
  own p99 is information only);
- `user.rounds.*` lists every round's value, in order: their spread is the figure's noise.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench import workload
from bench.loadgen import WrkRun, pooled_percentile_ms

FLOOR_HTTP = "floor_http_trivial.c1"


@dataclass
class Round:
    """One round: the floor's raw database round trips (ms) and the wrk runs by name (e.g.
    `submit_wait.logistic.c1`, and FLOOR_HTTP), with the 1-minute load average when the round ended."""

    floor_db_ms: list[float] = field(default_factory=list)
    runs: dict[str, WrkRun] = field(default_factory=dict)
    load_1m: float = 0.0

    def floor_p50_ms(self) -> float:
        return statistics.median(self.floor_db_ms) + self.runs[FLOOR_HTTP].p50_ms

    def floor_p99_ms(self) -> float:
        return workload.percentiles(self.floor_db_ms)["p99_ms"] + self.runs[FLOOR_HTTP].p99_ms


def order(names: list[str], index: int) -> list[str]:
    """The measurements of round `index`: as given in even rounds, reversed in odd ones."""
    return list(reversed(names)) if index % 2 else list(names)


def _median(values: list[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def combined(runs: list[WrkRun]) -> dict[str, Any]:
    """One figure from the same run's rounds (the medians of p50 and p99; see the module docstring)."""
    requests = sum(r.requests for r in runs)
    figures: dict[str, Any] = {
        "requests": requests,
        "per_s": round(requests / sum(r.seconds for r in runs)),
        "p50_ms": _median([r.p50_ms for r in runs]),
        "p99_ms": _median([r.p99_ms for r in runs]),
        "max_ms": round(max(r.max_ms for r in runs), 3),
    }
    if all(r.histogram for r in runs):
        figures["p99_ms_all"] = round(pooled_percentile_ms(runs, 99), 3)
    return {**figures, "rounds": len(runs)}


def summarize(rounds: list[Round], models: tuple[str, ...]) -> dict[str, Any]:
    """The scenario's figures (names kept from the single-run bench) and every round beside them."""
    figures: dict[str, Any] = {}
    db = workload.percentiles([ms for r in rounds for ms in r.floor_db_ms])
    per_round_db = [workload.percentiles(r.floor_db_ms) for r in rounds]
    db["p50_ms"] = _median([p["p50_ms"] for p in per_round_db])
    db["p99_ms_all"] = db["p99_ms"]
    db["p99_ms"] = _median([p["p99_ms"] for p in per_round_db])
    figures["user.floor.db_round_trip"] = {**db, "rounds": len(rounds)}
    floor_p50 = [r.floor_p50_ms() for r in rounds]
    floor_p99 = [r.floor_p99_ms() for r in rounds]
    figures["user.floor.p50_ms"] = _median(floor_p50)
    figures["user.floor.p99_ms"] = _median(floor_p99)
    figures["user.rounds.floor"] = {
        "p50_ms": [round(v, 3) for v in floor_p50],
        "p99_ms": [round(v, 3) for v in floor_p99],
    }
    figures["user.rounds.load_1m"] = [round(r.load_1m, 2) for r in rounds]
    for name in rounds[0].runs:
        runs = [r.runs[name] for r in rounds]
        figures[f"user.wrk.{name}"] = combined(runs)
        figures[f"user.rounds.{name}"] = {
            "p50_ms": [round(r.p50_ms, 3) for r in runs],
            "p99_ms": [round(r.p99_ms, 3) for r in runs],
        }
    for model in models:
        p50 = [r.runs[f"submit_wait.{model}.c1"].p50_ms for r in rounds]
        p99 = [r.runs[f"submit_wait.{model}.c1"].p99_ms for r in rounds]
        ratios = {
            f"submit_wait_p50_over_floor.{model}": [a / b for a, b in zip(p50, floor_p50, strict=True)],
            f"submit_wait_p99_over_floor.{model}": [a / b for a, b in zip(p99, floor_p50, strict=True)],
            f"submit_wait_p99_over_floor_p99.{model}": [a / b for a, b in zip(p99, floor_p99, strict=True)],
        }
        for key, values in ratios.items():
            figures[f"user.{key}"] = _median(values, 2)
            figures[f"user.rounds.{key}"] = [round(v, 2) for v in values]
    return figures
