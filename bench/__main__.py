"""`make bench` / `python -m bench`: every scenario of issues 7 and 16 in one run, table + bench/results.json.

BENCH_FULL=1 for longer runs; BENCH_SMOKE=1 for a few-second run that checks the harness only;
BENCH_ONLY=user,throughput (scenario names) runs only those, to iterate on one figure.
The user-side figures come from an outside load generator, Debian's wrk, beside the floor the
database allows measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from bench import explanations, floor, loadgen, partitions, throughput_floor, user_rounds, workload
from bench.stack import BenchStack, bench_stack, rss_mb

MODELS = ("logistic", "random_forest_e04")
RESULTS = Path(__file__).parent / "results.json"

SIZES = {
    "smoke": dict(
        floor_n=50,
        wrk_s=1.0,
        user_rounds=2,
        user_round_s=1.0,
        e2e_batch=2000,
        throughput_runs=[("logistic", 1), ("random_forest_e04", 1)],
        floor_rounds=1,
        latency_n=20,
        scale_n=20,
        poll_n=4,
        poll_window=1.0,
        polls=(0.5, 0.1),
        batch=2000,
        chunk=1000,
        api_s=1.0,
        fill=2000,
        explain_n=300,
        explain_repeat=10,
        explain_batch=16,
    ),
    "quick": dict(
        floor_n=2000,
        wrk_s=5.0,
        user_rounds=5,
        user_round_s=2.0,
        e2e_batch=10000,
        latency_n=300,
        scale_n=1000,
        poll_n=30,
        poll_window=15.0,
        polls=(5.0, 1.0),
        batch=30000,
        chunk=10000,
        api_s=5.0,
        fill=1_000_000,
        explain_n=10000,
        explain_repeat=200,
        explain_batch=256,
    ),
    "full": dict(
        floor_n=6000,
        wrk_s=20.0,
        user_rounds=5,
        user_round_s=8.0,
        e2e_batch=10000,
        latency_n=2000,
        scale_n=3000,
        poll_n=60,
        poll_window=30.0,
        polls=(5.0, 1.0),
        batch=100000,
        chunk=10000,
        api_s=20.0,
        fill=1_000_000,
        explain_n=30000,
        explain_repeat=1000,
        explain_batch=256,
    ),
}

TARGETS = {  # figure: (comparison, target) as issues 16 (what a user sees) and 7 state them
    "user.submit_wait_p50_over_floor.logistic": ("<=", 2),
    "user.submit_wait_p99_over_floor.logistic": ("<=", 4),
    "user.batch_10000_per_s.logistic": (">=", 20_000),
    "user.batch_10000_per_s.random_forest_e04": (">=", 12_000),
    "throughput.logistic.listeners_1": (">=", 25_000),
    "throughput.random_forest_e04.listeners_1": (">=", 15_000),
    "user.wrk.submit_only.logistic.c16.per_s": (">=", 3_000),
    "user.wrk.submit_wait.logistic.c16.per_s": (">=", 1_500),
    "user.wrk.submit_wait.logistic.c16.p99_ms": ("<=", 40),
    "latency.notify.logistic.p50_ms": ("<=", 5),
    "latency.notify.logistic.p99_ms": ("<=", 20),
    "latency.notify.random_forest_e04.p50_ms": ("<=", 10),
    "latency.notify.random_forest_e04.p99_ms": ("<=", 40),
    "latency.ratio_poll5_over_notify_p50.logistic": (">=", 300),
    "api.submissions_per_s": (">=", 1_000),
    "memory.listener_rss_mb": ("<=", 300),
    "scale.p99_ratio_1m_over_empty": ("<=", 1.5),
    "throughput.one_shadow_cost_pct": ("<=", 30),  # a shadow challenger costs at most 30 %
    **partitions.TARGETS,
}


def mode() -> str:
    if os.environ.get("BENCH_SMOKE"):
        return "smoke"
    return "full" if os.environ.get("BENCH_FULL") else "quick"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, stack: BenchStack, size: dict[str, Any]) -> None:
        self.stack, self.size = stack, size
        self.figures: dict[str, Any] = {}

    def api(self, url: str) -> tuple[Any, str, httpx.Client]:
        proc, base = self.stack.start_api(url)
        return proc, base, httpx.Client(base_url=base, timeout=60)

    def warm(self, client: httpx.Client, rows: list[dict]) -> None:
        for model in ("dummy", "logistic", "random_forest", "random_forest_e04"):
            for _ in range(3):
                workload.submit_and_wait(client, model, rows[0], 30)

    def latency(self) -> None:
        url = self.stack.new_database()
        api, base, client = self.api(url)
        rows = workload.feature_rows()
        listener = self.stack.start_listener(url)
        self.warm(client, rows)
        for model in MODELS:
            log(f"latency, NOTIFY mode, {model}")
            samples = workload.sequential_latency(client, model, rows, self.size["latency_n"])
            self.figures[f"latency.notify.{model}"] = workload.percentiles(samples)
        self.figures["memory.listener_rss_mb"] = round(rss_mb(listener), 1)
        self.figures["memory.api_rss_mb"] = round(rss_mb(api), 1)
        self.stack.stop(listener)
        for interval in self.size["polls"]:
            poller = self.stack.start_listener(url, "--poll-only", "--poll-interval", str(interval))
            self.warm(client, rows)
            for model in MODELS:
                log(f"latency, --poll-only every {interval}s, {model}")
                samples = asyncio.run(
                    workload.spread_latency(
                        base, dict(client.headers), model, rows, self.size["poll_n"], self.size["poll_window"]
                    )
                )
                self.figures[f"latency.poll_{interval:g}s.{model}"] = workload.percentiles(samples)
            self.stack.stop(poller)
        slow = self.size["polls"][0]
        for model in MODELS:
            ratio = (
                self.figures[f"latency.poll_{slow:g}s.{model}"]["p50_ms"]
                / self.figures[f"latency.notify.{model}"]["p50_ms"]
            )
            self.figures[f"latency.ratio_poll{slow:g}_over_notify_p50.{model}"] = round(ratio, 1)
        self.stack.stop(api)

    def user(self) -> None:
        """What a user sees, from wrk outside the API, beside the floor measured in this run."""
        url = self.stack.new_database()
        api, base, client = self.api(url)
        rows = workload.feature_rows()
        listener = self.stack.start_listener(url)
        self.warm(client, rows)
        seconds = self.size["wrk_s"]
        bodies = {m: loadgen.bodies_file(rows, m, self.stack.workdir) for m in MODELS}
        self.figures.update(self.user_rounds(url, api, base, listener, rows, bodies))

        def measured(name: str, run: Callable[[], loadgen.WrkRun]) -> loadgen.WrkRun:
            # CPU milliseconds per request of each process: where the time goes, even on a busy machine.
            before = self.stack.cpu(api=api, listener=listener)
            result = run()
            after = self.stack.cpu(api=api, listener=listener)
            self.figures[name] = result.figures()
            self.figures[name.replace("user.wrk.", "user.cpu_ms_per_request.")] = {
                k: round((after[k] - before[k]) * 1000 / max(result.requests, 1), 3) for k in after
            }
            return result

        self.answer_from_notify_ab(url, api, base, listener, bodies["logistic"], seconds)
        log("wrk submissions without wait, logistic, 16 connections, listener running")
        measured(
            "user.wrk.submit_only.logistic.c16",
            lambda: loadgen.submit_only(base, bodies["logistic"], 16, seconds),
        )
        workload.wait_until_idle(url, timeout=600)
        n = self.size["e2e_batch"]
        for model in MODELS:
            workload.submit_batches(client, model, rows, 500, 500)  # this model's batch path warmed
            workload.wait_until_idle(url, timeout=60)
            log(f"one {n:,}-row POST /predictions/batch, {model}, from the call to the last result")
            before = self.stack.cpu(api=api, listener=listener)
            rate = workload.batch_end_to_end(client, url, model, rows, n)
            after = self.stack.cpu(api=api, listener=listener)
            self.figures[f"user.batch_{n}_per_s.{model}"] = round(rate)
            self.figures[f"user.cpu_ms_per_1000_rows.batch.{model}"] = {
                k: round((after[k] - before[k]) * 1e6 / n, 1) for k in after
            }
        self.stack.stop_all()

    def user_rounds(
        self, url: str, api: Any, base: str, listener: Any, rows: list[dict], bodies: dict[str, Path]
    ) -> dict[str, Any]:
        """The floor and the submit-and-wait runs (1 connection per model, then 16), in rounds alternated
        with each other (bench/user_rounds.py says what is the median of what), with the CPU per request
        of each measurement over all its rounds."""
        count, seconds = self.size["user_rounds"], self.size["user_round_s"]
        me = psutil.Process()
        steps: dict[str, Callable[[], loadgen.WrkRun]] = {
            user_rounds.FLOOR_HTTP: lambda: loadgen.trivial(base, "/health/live", 1, seconds, histogram=True),
            **{
                f"submit_wait.{m}.c1": lambda m=m: loadgen.submit_and_wait(
                    base, bodies[m], 1, seconds, histogram=True
                )
                for m in MODELS
            },
            "submit_wait.logistic.c16": lambda: loadgen.submit_and_wait(
                base, bodies["logistic"], 16, seconds
            ),
        }
        names = ["floor.db_round_trip", *steps]
        cpu: dict[str, dict[str, float]] = {name: {} for name in names}
        served: dict[str, int] = dict.fromkeys(names, 0)
        rounds = []
        for index in range(count):
            one = user_rounds.Round()
            for name in user_rounds.order(names, index):
                log(f"user round {index + 1}/{count}: {name}")
                if name == "floor.db_round_trip":  # the raw client runs in this process
                    before = {**self.stack.cpu(), "client": sum(me.cpu_times()[:2])}
                    one.floor_db_ms = floor.round_trips(url, rows, self.size["floor_n"] // count)
                    after = {**self.stack.cpu(), "client": sum(me.cpu_times()[:2])}
                    served[name] += len(one.floor_db_ms) + 20  # with its 20 warm-up round trips
                else:
                    before = self.stack.cpu(api=api, listener=listener)
                    one.runs[name] = steps[name]()
                    after = self.stack.cpu(api=api, listener=listener)
                    served[name] += one.runs[name].requests
                for k in after:
                    cpu[name][k] = cpu[name].get(k, 0.0) + after[k] - before[k]
            one.load_1m = os.getloadavg()[0]
            rounds.append(one)
        figures = user_rounds.summarize(rounds, MODELS)
        for name in names:
            figures[f"user.cpu_ms_per_request.{name}"] = {
                k: round(v * 1000 / max(served[name], 1), 3) for k, v in cpu[name].items()
            }
        return figures

    def answer_from_notify_ab(
        self, url: str, api: Any, base: str, listener: Any, bodies: Path, seconds: float, rounds: int = 2
    ) -> None:
        """Submit-and-wait answered from the completion notification (schema 022) against re-reading the
        request (API_ANSWER_FROM_NOTIFY=false), in alternating rounds: this API and a second one on the
        same database and listener. Medians of the rounds; `off_over_on` > 1 means the payload is faster."""
        other, other_base = self.stack.start_api(url, {"API_ANSWER_FROM_NOTIFY": "false"})
        apis = {"on": (api, base), "off": (other, other_base)}
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(rounds):
            for connections in (1, 16):
                for setting, (proc, at) in apis.items():
                    log(
                        f"A/B answer from notify {setting}, wrk submit-and-wait, logistic, {connections} conn"
                    )
                    before = self.stack.cpu(api=proc, listener=listener)
                    run = loadgen.submit_and_wait(at, bodies, connections, seconds)
                    after = self.stack.cpu(api=proc, listener=listener)
                    cpu = {f"cpu_ms_{k}": (after[k] - before[k]) * 1000 / max(run.requests, 1) for k in after}
                    runs.setdefault(f"{setting}.c{connections}", []).append({**run.figures(), **cpu})
        self.stack.stop(other)
        med = {
            key: {f: round(statistics.median(r[f] for r in rs), 3) for f in rs[0]} for key, rs in runs.items()
        }
        for key, figures in med.items():
            self.figures[f"user.ab.answer_from_notify.{key}"] = figures
        for c in ("c1", "c16"):
            on, off = med[f"on.{c}"], med[f"off.{c}"]
            self.figures[f"user.ab.answer_from_notify.off_over_on.{c}"] = {
                "p50": round(off["p50_ms"] / on["p50_ms"], 2),
                "p99": round(off["p99_ms"] / on["p99_ms"], 2),
                "per_s_on_over_off": round(on["per_s"] / max(off["per_s"], 1), 2),
                "api_cpu": round(off["cpu_ms_api"] / max(on["cpu_ms_api"], 1e-9), 2),
            }

    def throughput(self) -> None:
        """The listeners at saturation, between rounds of the floor the database allows for the same
        backlog (bench/throughput_floor.py: the listener's SQL with no model), serial and overlapped
        alternated: A B before the listeners' runs, B A after (smoke: A B only)."""
        runs = self.size.get("throughput_runs") or [(m, k) for m in MODELS for k in (1, 2)]
        rows = workload.feature_rows()
        n = self.size["batch"]
        floors: dict[str, list[dict[str, Any]]] = {mode: [] for mode in throughput_floor.MODES}

        def floor_round(modes: tuple[str, ...]) -> None:
            for mode in modes:
                log(f"throughput floor, {mode}, {n} rows drained by the listener's SQL with no model")
                floors[mode].append(throughput_floor.measure(self.stack, rows, n, mode))

        floor_round(throughput_floor.MODES)
        self.saturation(runs, rows, n)
        if self.size.get("floor_rounds", 2) > 1:
            floor_round(tuple(reversed(throughput_floor.MODES)))
        for mode, results in floors.items():
            # The best run of each arm: on a shared machine the least disturbed one.
            best = max(results, key=lambda r: r["rows_per_s"])
            key = "throughput.floor" if mode == "serial" else f"throughput.floor.{mode}"
            self.figures[f"{key}.rows_per_s"] = best["rows_per_s"]
            self.figures[f"{key}.cpu_ms_per_1000_rows"] = best["cpu_ms_per_1000_rows"]
            self.figures[f"{key}.runs"] = {
                f: [r[f] for r in results] for f in ("rows_per_s", "wall_rows_per_s", "load_1m")
            }
        floor_rate = max(
            self.figures[f"{k}.rows_per_s"] for k in ("throughput.floor", "throughput.floor.overlapped")
        )
        for model in MODELS:
            saturated = self.figures.get(f"throughput.{model}.listeners_1")
            if saturated is not None:
                self.figures[f"throughput.{model}.listeners_1_over_floor"] = round(saturated / floor_rate, 2)

    def saturation(self, runs: list[tuple[str, int]], rows: list[dict], n: int) -> None:
        for model, listeners in runs:
            url = self.stack.new_database()
            api, _, client = self.api(url)
            log(
                f"throughput, {model}, {listeners} listener(s), {n} rows submitted through /predictions/batch"
            )
            start = time.perf_counter()
            workload.submit_batches(client, model, rows, n, self.size["chunk"])
            self.figures[f"throughput.batch_submit_rows_per_s.{model}.{listeners}"] = round(
                n / (time.perf_counter() - start)
            )
            if listeners == 1:  # CPU from its registration (imports and model loading left out)
                procs = [self.stack.start_listener(url)]
                before = self.stack.cpu(listener=procs[0])
            else:
                procs = [self.stack.start("listener", url) for _ in range(listeners)]
            workload.wait_until_done(url, n, timeout=600)
            if listeners == 1:
                after = self.stack.cpu(listener=procs[0])
                self.figures[f"throughput.cpu_ms_per_1000_rows.{model}"] = {
                    k: round((after[k] - before[k]) * 1e6 / n, 1) for k in after
                }
            # Saturation: the whole backlog is there when the listeners start; the rate runs from the
            # first claim to the last completion, from the rows' own timestamps.
            self.figures[f"throughput.{model}.listeners_{listeners}"] = round(workload.drain_rate(url))
            self.figures[f"throughput.load_1m.{model}.listeners_{listeners}"] = round(os.getloadavg()[0], 2)
            for p in [*procs, api]:
                self.stack.stop(p)

    def shadows(self) -> None:
        """The default model's drain rate with no shadow, then with `logistic` scored in its shadow (until
        the last shadow row is written, so the challenger's whole cost counts), twice, alternating: on a
        shared machine the best of each arm compares the two more fairly than one run of each."""
        n = self.size["batch"]
        rates: dict[int, list[float]] = {0: [], 1: []}
        for shadows in (0, 1, 0, 1):
            url = self.stack.new_database()
            api, _, client = self.api(url)
            if shadows:
                self.stack.run_module("model_store", url, "shadow", "logistic")
            log(f"throughput, the default model with {shadows} shadow(s), {n} rows")
            workload.submit_batches(
                client, "random_forest_e04", workload.feature_rows(), n, self.size["chunk"]
            )
            listener = self.stack.start_listener(url)  # its models (and shadows) loaded: not timed
            before = self.stack.cpu(listener=listener)
            workload.wait_until_done(url, n, timeout=600)
            workload.wait_until_shadowed(url, n * shadows, timeout=120)
            after = self.stack.cpu(listener=listener)
            rate = workload.drain_rate(url)
            key = f"throughput.shadows_{shadows}"
            if not rates[shadows] or rate > max(rates[shadows]):
                self.figures[f"{key}.cpu_ms_per_1000_rows"] = {
                    k: round((after[k] - before[k]) * 1e6 / n, 1) for k in after
                }
            rates[shadows].append(rate)
            self.figures[f"{key}.random_forest_e04"] = round(max(rates[shadows]))
            self.figures[f"{key}.runs_per_s"] = [round(r) for r in rates[shadows]]
            for p in (listener, api):
                self.stack.stop(p)
        without, with_one = (self.figures[f"throughput.shadows_{k}.random_forest_e04"] for k in (0, 1))
        self.figures["throughput.one_shadow_cost_pct"] = round(100 * (1 - with_one / without), 1)

    def api_rate(self) -> None:
        url = self.stack.new_database()
        api, base, client = self.api(url)
        rows = workload.feature_rows()
        log("API single-request submissions per second")
        rate = asyncio.run(workload.api_submissions(base, dict(client.headers), rows, self.size["api_s"], 16))
        self.figures["api.submissions_per_s"] = round(rate)
        self.stack.stop(api)

    def inference(self) -> None:
        url = self.stack.new_database()
        from model_store.registry import open_registry

        registry = open_registry(url)
        api, _, _client = self.api(url)
        rows = workload.feature_rows()
        self.stack.stop(api)
        for model in ("dummy", "logistic", "random_forest", "random_forest_e04"):
            handle = registry.get(model)
            handle.predict(rows[:1])
            singles = []
            for row in rows[:200]:
                t = time.perf_counter()
                handle.predict([row])
                singles.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            for i in range(0, 1024, 256):
                handle.predict(rows[i : i + 256])
            batch = (time.perf_counter() - t) * 1000 / 1024
            self.figures[f"inference.{model}"] = {
                "single_row_ms": round(sorted(singles)[len(singles) // 2], 4),
                "batch_256_ms_per_row": round(batch, 4),
            }

    def explanations(self) -> None:
        """One explanation per model, and the listener with explain-at-answer on and off."""
        from sql.settings import get_settings

        url = self.stack.new_database()
        rows = workload.feature_rows()
        log(f"explanations: cost of one per model, single row and batches of {self.size['explain_batch']}")
        self.figures.update(
            explanations.explanation_costs(
                url,
                get_settings().model_store_dir,
                rows,
                self.size["explain_repeat"],
                self.size["explain_batch"],
            )
        )
        log(f"explanations: one listener draining {self.size['explain_n']:,} rows, explain-at-answer off/on")
        self.figures.update(explanations.at_answer_throughput(self, rows, self.size["explain_n"]))

    def scale(self) -> None:
        url = self.stack.new_database()
        api, _, client = self.api(url)
        rows = workload.feature_rows()
        listener = self.stack.start_listener(url)
        self.warm(client, rows)
        n = self.size["scale_n"]
        empty = workload.percentiles(workload.sequential_latency(client, "logistic", rows, n))
        log(f"scale: filling {self.size['fill']:,} completed rows")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute((Path(__file__).parent / "fill.sql").read_text(), {"n": self.size["fill"]})
            conn.execute("VACUUM ANALYZE prediction_requests")
            conn.execute("VACUUM ANALYZE prediction_results")
            # Measure the steady state with 1M rows, not the bulk load's checkpoint landing mid-run.
            conn.execute("CHECKPOINT")
        full = workload.percentiles(workload.sequential_latency(client, "logistic", rows, n))
        self.figures["scale.empty.logistic"] = empty
        self.figures[f"scale.rows_{self.size['fill']}.logistic"] = full
        self.figures["scale.p99_ratio_1m_over_empty"] = round(full["p99_ms"] / empty["p99_ms"], 2)
        self.stack.stop(listener)
        self.stack.stop(api)


def flat(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def verdicts(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = flat(figures)
    result = {}
    for key, (op, target) in TARGETS.items():
        value = values.get(key)
        met = None if value is None else (value <= target if op == "<=" else value >= target)
        ratio = None if value is None else round(value / target, 2)
        result[key] = {"value": value, "target": f"{op} {target}", "ratio": ratio, "met": met}
    return result


def print_table(figures: dict[str, Any], checks: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'figure':58} {'value':>12}")
    for key, value in flat(figures).items():
        print(f"{key:58} {value!s:>12}")  # a figure may be a list (the runs of a scenario)
    print(f"\n{'target':58} {'value':>12} {'target':>10} {'÷ target':>9}  met")
    for key, c in checks.items():
        print(f"{key:58} {c['value']!s:>12} {c['target']:>10} {c['ratio']!s:>9}  {c['met']}")


def machine() -> dict[str, Any]:
    import sklearn

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
    }


def main() -> int:
    try:
        loadgen.wrk_path()  # before anything starts: the user-side figures need the outside load generator
    except loadgen.WrkMissing as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 2
    size_name = mode()
    size = SIZES[size_name]
    env = {}
    with bench_stack(env) as stack:
        bench = Bench(stack, size)
        started = time.time()
        only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
        scenarios = (
            bench.user,
            bench.inference,
            bench.latency,
            bench.throughput,
            bench.shadows,
            bench.api_rate,
            bench.explanations,
            bench.scale,
        )
        for scenario in scenarios:
            if not only or scenario.__name__ in only:
                scenario()
        if not only or "partitions" in only:
            partitions.run(bench, size_name)
        report = {
            "mode": size_name,
            "command": "make bench" + (" BENCH_FULL=1" if size_name == "full" else ""),
            "ran_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": round(time.time() - started, 1),
            "machine": {**machine(), "postgresql": stack.postgres_version()},
            "figures": bench.figures,
            "targets": verdicts(bench.figures),
        }
    out = Path(os.environ.get("BENCH_RESULTS", RESULTS))
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report["figures"], report["targets"])
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
