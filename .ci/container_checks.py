"""Checks .ci/containers runs against the compose stack: the product as its containers serve it.

    container_checks.py submit-and-wait   one real employee through the API, answered in the same call
    container_checks.py drain             a backlog drained by several listener replicas, one killed midway
    container_checks.py roles             the api and listener sessions run as their own least-privilege roles

COMPOSE (e.g. "docker-compose -p futurisys-ci") names the stack, API_URL its published API.
Every figure comes from the containers' own database; the exit code says whether the check held.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COMPOSE = shlex.split(os.environ.get("COMPOSE", "docker compose -p futurisys-ci"))
API_URL = os.environ.get("API_URL", "http://127.0.0.1:8000")
BATCH = 10_000  # the API's largest batch


def employees() -> list[dict]:
    """Every employee of the IBM HR data set, as the API takes them."""
    from model_store.data import load_attrition

    frame = load_attrition().X
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def plain(value: object) -> object:
    """A numpy scalar as the Python value JSON takes."""
    return value.item() if hasattr(value, "item") else value


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def containers(service: str) -> list[str]:
    return run(*COMPOSE, "ps", "-q", service).split()


def psql(query: str) -> list[list[str]]:
    """Rows of `query`, run by psql inside the postgres container."""
    (pg,) = containers("postgres")
    out = run("docker", "exec", pg, "psql", "-U", "futurisys", "-d", "futurisys", "-AtF", "\t", "-c", query)
    return [line.split("\t") for line in out.splitlines() if line]


def submit_and_wait() -> int:
    employee = employees()[0]
    started = time.perf_counter()
    reply = httpx.post(
        f"{API_URL}/predictions/request", params={"wait": 10}, json={"features": employee}, timeout=30
    )
    elapsed = (time.perf_counter() - started) * 1000
    body = reply.json()
    if reply.status_code != 200 or body.get("status") != "completed":
        print(f"submit-and-wait: {reply.status_code} {reply.text[:300]}")
        return 1
    result = body["result"]
    print(
        f"submit-and-wait: employee 1 of the data set (age {employee['age']}, {employee['job_role']}) → "
        f"prediction {result['prediction']}, probability {result['probability']:.3f}, "
        f"model {body['model_name']} {result['model_version']}, in {elapsed:.0f} ms"
    )
    return 0


def wait_for_listeners(ids: list[str], timeout: float = 90) -> None:
    hosts = ", ".join(f"'{i[:12]}'" for i in ids)  # a container's hostname is its short id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (row,) = psql(
            f"SELECT count(DISTINCT hostname) FROM listener_heartbeats "
            f"WHERE stopped_at IS NULL AND hostname IN ({hosts})"
        )
        if int(row[0]) == len(ids):
            return
        time.sleep(1)
    raise TimeoutError(f"{len(ids)} listener replicas did not all report a heartbeat in {timeout:.0f} s")


def drain(rows: int, replicas: int, kill_at: float, timeout: float) -> int:
    run(*COMPOSE, "up", "-d", "--no-deps", "--no-recreate", "--scale", f"listener={replicas}", "listener")
    ids = containers("listener")
    if len(ids) != replicas:
        print(f"drain: expected {replicas} listener replicas, compose runs {len(ids)}")
        return 1
    wait_for_listeners(ids)
    run("docker", "pause", *ids)  # frozen while the backlog is stored, so all start on it together
    try:
        (before,) = psql("SELECT coalesce(max(id), 0) FROM prediction_requests")
        people = employees()
        started = time.perf_counter()
        for start in range(0, rows, BATCH):
            items = [people[i % len(people)] for i in range(start, min(start + BATCH, rows))]
            httpx.post(f"{API_URL}/predictions/batch", json={"items": items}, timeout=120).raise_for_status()
        print(f"drain: {rows:,} real employees submitted in {time.perf_counter() - started:.1f} s")
    finally:
        run("docker", "unpause", *ids)
    scope = f"FROM prediction_requests WHERE id > {int(before[0])}"
    victim, killed_at, started = ids[1], None, time.monotonic()
    while time.monotonic() - started < timeout:
        done = int(psql(f"SELECT count(*) {scope} AND status IN ('completed', 'failed')")[0][0])
        if killed_at is None and done >= rows * kill_at:
            run("docker", "kill", victim)
            killed_at = done
            print(f"drain: killed replica {victim[:12]} (SIGKILL) with {done:,} of {rows:,} done")
        if done >= rows:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    return report(scope, rows, ids, victim, killed_at, elapsed)


def report(scope: str, rows: int, ids: list[str], victim: str, killed_at: int | None, elapsed: float) -> int:
    submitted, completed, failed, reclaimed = map(
        int,
        psql(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), "
            f"count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE attempts > 1) {scope}"
        )[0],
    )
    results, distinct = map(
        int,
        psql(
            "SELECT count(*), count(DISTINCT r.request_id) FROM prediction_results r "
            f"WHERE r.request_id IN (SELECT id {scope})"
        )[0],
    )
    per_host = dict(
        psql(f"SELECT split_part(claimed_by, ':', 1), count(*) {scope} AND status = 'completed' GROUP BY 1")
    )
    duplicates = results - distinct
    print(
        f"drain: submitted {submitted:,}, completed {completed:,}, failed {failed:,}, "
        f"results {results:,}, duplicates {duplicates}, claimed more than once {reclaimed:,}, "
        f"in {elapsed:.1f} s"
    )
    for i in ids:
        note = " (killed)" if i == victim else ""
        print(f"drain:   replica {i[:12]}{note}: completed {int(per_host.get(i[:12], 0)):,}")
    ok = (
        killed_at is not None
        and killed_at < rows
        and submitted == rows
        and completed == rows
        and results == rows
        and duplicates == 0
    )
    print("drain: every request completed exactly once" if ok else "drain: FAILED")
    return 0 if ok else 1


def address(container: str) -> set[str]:
    """The container's addresses on the stack's networks."""
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    out = run("docker", "inspect", "-f", template, container)
    return set(out.split())


def roles() -> int:
    """Who each service's sessions are, from pg_stat_activity: the api's only futurisys_compose_api,
    every listener's only futurisys_compose_listener, and each of those roles a member of its group
    only (no superuser, no owner rights)."""
    expected = {
        "api": ("futurisys_compose_api", "futurisys_api"),
        "listener": ("futurisys_compose_listener", "futurisys_listener"),
    }
    sessions = psql(
        "SELECT host(client_addr), usename, count(*) FROM pg_stat_activity "
        "WHERE datname = 'futurisys' AND client_addr IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    )
    ok = True
    for service, (login, group) in expected.items():
        ids = containers(service)
        addrs = set().union(*(address(c) for c in ids)) if ids else set()
        users = {user: int(n) for addr, user, n in sessions if addr in addrs}
        print(f"roles: {service} ({len(ids)} container(s)) sessions by role: {users or 'none'}")
        ok &= bool(users) and set(users) == {login}
        ((superuser, member_of, owner),) = psql(
            f"SELECT rolsuper, pg_has_role('{login}', '{group}', 'MEMBER'), "
            f"pg_has_role('{login}', 'futurisys_owner', 'MEMBER') FROM pg_roles WHERE rolname = '{login}'"
        )
        print(f"roles: {login}: superuser={superuser} member of {group}={member_of} owner={owner}")
        ok &= (superuser, member_of, owner) == ("f", "t", "f")
    print("roles: api and listeners run under their least-privilege roles" if ok else "roles: FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="check", required=True)
    sub.add_parser("submit-and-wait")
    sub.add_parser("roles")
    d = sub.add_parser("drain")
    d.add_argument("--rows", type=int, default=30_000)
    d.add_argument("--replicas", type=int, default=3)
    d.add_argument("--kill-at", type=float, default=0.3, help="fraction done when one replica is killed")
    d.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    if args.check == "submit-and-wait":
        return submit_and_wait()
    if args.check == "roles":
        return roles()
    return drain(args.rows, args.replicas, args.kill_at, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
