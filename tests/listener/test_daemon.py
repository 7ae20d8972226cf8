"""The loop in-process (a thread, a controllable stand-in registry): wake-ups, self-check, reconnects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg

from listener.config import ListenerConfig
from listener.daemon import Listener
from tests.listener.helpers import (
    FakeHandle,
    FakeRegistry,
    all_done,
    assert_exactly_one_result_each,
    running_in_thread,
    submit,
    wait_until,
)

QUIET = {"sweep_seconds": 60.0, "heartbeat_seconds": 60.0, "ping_seconds": 60.0}
# What must happen at once (a NOTIFY heard, a lost connection replaced) gets this long: generous for a busy
# machine, yet far below the 60 s chores above, the only other ways the same thing could come about.
PROMPTLY = 20


def listener_for(db_url: str, registry: FakeRegistry, **overrides: Any) -> Listener:
    return Listener(ListenerConfig(database_url=db_url, **{**QUIET, **overrides}), registry=registry)


def registered(conn: psycopg.Connection, listener: Listener) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM listener_heartbeats WHERE listener_id = %s", [listener.listener_id]
    ).fetchone()
    return row == (1,)


def backend_pids(conn: psycopg.Connection, listener: Listener) -> dict[str, int]:
    """{'work': pid, 'listen': pid} of the listener's server backends, by application_name."""
    rows = conn.execute(
        "SELECT application_name, pid FROM pg_stat_activity WHERE application_name LIKE %s",
        [f"listener {listener.listener_id}%"],
    ).fetchall()
    return {("listen" if name.endswith("LISTEN") else "work"): pid for name, pid in rows}


def test_notify_wakes_the_loop_and_a_batch_insert_drains(db_url: str, conn: psycopg.Connection) -> None:
    registry = FakeRegistry("logistic")
    with running_in_thread(listener_for(db_url, registry, batch_size=100)) as listener:
        assert wait_until(lambda: registered(conn, listener), 30)
        submit(conn, 1000)
        assert wait_until(all_done(conn), PROMPTLY)
    assert_exactly_one_result_each(conn, 1000)
    assert registry.handles["logistic"].calls == [100] * 10


def test_model_promoted_notification_refreshes_the_registry(db_url: str, conn: psycopg.Connection) -> None:
    registry = FakeRegistry("logistic")
    with running_in_thread(listener_for(db_url, registry)) as listener:
        assert wait_until(lambda: registered(conn, listener), 30)
        before = registry.refreshes
        conn.execute("NOTIFY model_promoted")
        assert wait_until(lambda: registry.refreshes == before + 1, PROMPTLY)


def test_a_silently_deaf_listen_connection_is_found_by_its_ping_and_replaced(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = FakeRegistry("logistic")
    with running_in_thread(listener_for(db_url, registry, ping_seconds=0.2)) as listener:
        assert wait_until(lambda: registered(conn, listener), 30)
        deaf = listener._listen
        assert deaf is not None
        # The connection stays open but hears nothing any more: what a LISTEN connection looks like
        # after some server restarts or pooler mishaps, and what degrades queues to slow polling.
        deaf.conn.execute("UNLISTEN *")
        ids = submit(conn, 5)  # its NOTIFY reaches nobody
        assert wait_until(all_done(conn, ids), PROMPTLY), "not recovered before the 60 s sweep"
        assert listener._listen is not deaf
        ids = submit(conn, 1)
        assert wait_until(all_done(conn, ids), PROMPTLY), "the new LISTEN connection does not hear NOTIFY"


def test_a_lost_work_connection_is_reopened_when_next_used(db_url: str, conn: psycopg.Connection) -> None:
    registry = FakeRegistry("logistic")
    with running_in_thread(listener_for(db_url, registry)) as listener:
        assert wait_until(lambda: registered(conn, listener), 30)
        conn.execute("SELECT pg_terminate_backend(%s)", [backend_pids(conn, listener)["work"]])
        ids = submit(conn, 3)
        assert wait_until(all_done(conn, ids), PROMPTLY)
    assert_exactly_one_result_each(conn, 3)


class KillsItsListenerMidBatch(FakeHandle):
    """Terminates the listener's work connection while predicting: the outcome cannot be written."""

    def __init__(self, admin: psycopg.Connection, app_name: str) -> None:
        super().__init__("logistic")
        self.admin = admin
        self.app_name = app_name

    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        if not self.calls:
            self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [self.app_name],
            )
        return super().predict(features)


def test_an_outcome_computed_before_the_connection_dropped_is_written_after_reconnecting(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = FakeRegistry("logistic")
    listener = listener_for(db_url, registry)
    registry.handles["logistic"] = KillsItsListenerMidBatch(conn, f"listener {listener.listener_id}")
    with running_in_thread(listener):
        assert wait_until(lambda: registered(conn, listener), 30)
        submit(conn, 20)
        assert wait_until(all_done(conn), PROMPTLY)
    assert_exactly_one_result_each(conn, 20)
    assert registry.handles["logistic"].calls == [20]  # inferred once, written after the reconnect
    assert conn.execute("SELECT DISTINCT attempts FROM prediction_requests").fetchall() == [(1,)]


class StopsTheListenerWhilePredicting(FakeHandle):
    """Stands for a SIGTERM that arrives while a batch is being predicted."""

    def __init__(self, listener: Listener) -> None:
        super().__init__("logistic")
        self.listener = listener

    def predict(self, features: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        self.listener.stop()
        return super().predict(features)


def test_a_stop_mid_batch_finishes_the_group_in_hand_and_releases_the_rest(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = FakeRegistry("logistic", "dummy")
    submit(conn, 30, model="logistic")
    submit(conn, 20, model="dummy")  # both in the first claimed batch: logistic's group goes first
    listener = listener_for(db_url, registry)
    registry.handles["logistic"] = StopsTheListenerWhilePredicting(listener)
    with running_in_thread(listener):
        assert wait_until(lambda: listener.shutdown.is_set(), 30)
    rows = conn.execute(
        "SELECT model_name, status, attempts, count(*) FROM prediction_requests GROUP BY 1, 2, 3 ORDER BY 1"
    ).fetchall()
    assert rows == [("dummy", "pending", 0, 20), ("logistic", "completed", 1, 30)]
    assert registry.handles["dummy"].calls == []
    stopped = conn.execute("SELECT processed, stopped_at IS NOT NULL FROM listener_heartbeats").fetchone()
    assert stopped == (30, True)


def test_a_process_listener_freezes_its_loaded_heap_and_still_answers(
    db_url: str, conn: psycopg.Connection
) -> None:
    # What `python -m listener` does (listener/workers.py): once started, the objects of the start-up
    # (imports, loaded models) sit in the collector's permanent generation, so no later full collection
    # walks them in the middle of a request; requests are answered as before.
    import gc

    gc.unfreeze()
    listener = Listener(
        ListenerConfig(database_url=db_url, **QUIET),
        registry=FakeRegistry("logistic"),
        freeze_startup_heap=True,
    )
    try:
        with running_in_thread(listener):
            assert wait_until(lambda: gc.get_freeze_count() > 0, PROMPTLY)
            assert wait_until(all_done(conn, submit(conn, 3)), PROMPTLY)
        assert_exactly_one_result_each(conn, 3)
    finally:
        gc.unfreeze()


def test_an_in_process_listener_leaves_the_collector_alone(db_url: str, conn: psycopg.Connection) -> None:
    import gc

    gc.unfreeze()
    listener = listener_for(db_url, FakeRegistry("logistic"))
    with running_in_thread(listener):
        assert wait_until(lambda: registered(conn, listener), PROMPTLY)
        assert gc.get_freeze_count() == 0
