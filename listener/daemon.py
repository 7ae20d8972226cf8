"""The listener loop: wait for NOTIFY (or poll), claim a batch, infer, record; sweep, beat, reconnect."""

from __future__ import annotations

import gc
import logging
import os
import time

import psycopg

from listener.availability import Availability
from listener.claims import (
    Recorded,
    claim_pending,
    limit_idle_transactions,
    lock_pending,
    pending_floor,
    record_outcomes,
    release_own_claims,
    sweep_expired_leases,
)
from listener.config import ListenerConfig, listener_id
from listener.connection import CONNECTION_LOST, Backoff, close_quietly, connect, first_line
from listener.explanations import ExplanationWork
from listener.heartbeat import Heartbeat
from listener.inference import ModelRegistry, describe, infer_batch, warm_up
from listener.notifications import ListenConnection, ListenConnectionSilent, PingCheck, Wakes
from listener.outcomes import BatchOutcome, Claim
from listener.recorder import BackgroundRecorder, Taken
from listener.shadows import ShadowScoring
from listener.shutdown import ShutdownEvent
from listener.timers import Every
from sql.json_codec import use_fast_json
from sql.named_queries import QUERIES

log = logging.getLogger("listener")

# Totals are written this soon after the listener goes quiet (not after every batch: under a steady
# trickle of single requests that was one more write and commit per request).
IDLE_BEAT_SECONDS = 0.2

# What sends the loop to reconnect instead of crashing.
# IdleInTransactionSessionTimeout: the server ended the work session inside a short transaction that
# stalled past its lease (_claim_infer_record); its rows are pending again.
RECONNECT_ON: tuple[type[Exception], ...] = (
    *CONNECTION_LOST,
    ListenConnectionSilent,
    psycopg.errors.IdleInTransactionSessionTimeout,
)


class Listener:
    """One worker: owns its two connections and the loop. `run()` blocks until `stop()` (signal-safe).

    Work is claimed on NOTIFY prediction_requested (or every poll interval with --poll-only), then
    drained batch after batch until a claim comes back empty; only then does the loop wait again.
    """

    def __init__(
        self,
        config: ListenerConfig,
        registry: ModelRegistry | None = None,
        *,
        parent_pid: int | None = None,
        shutdown: ShutdownEvent | None = None,
        explanations: ExplanationWork | None = None,
        shadows: ShadowScoring | None = None,
        freeze_startup_heap: bool = False,
    ) -> None:
        self.config = config
        # The process's own listener (listener/workers.py): once the models are loaded, move everything
        # alive into the collector's permanent generation (gc.freeze). The loaded models and imports are
        # ~200,000 objects: a full collection walked them all, 50-110 ms on this machine, inside whatever
        # request was in flight. Off for in-process listeners (tests): the freeze is process-wide.
        self._freeze_startup_heap = freeze_startup_heap
        self.listener_id = listener_id(config.worker_index)
        self.shutdown = shutdown or ShutdownEvent()
        self.heartbeat = Heartbeat(self.listener_id, config.mode)
        self.availability = Availability(self.listener_id)
        self._registry = registry
        self.explanations = explanations or ExplanationWork.for_config(self.listener_id, config)
        self.shadows = shadows or shadow_scoring(self.listener_id, registry)
        self._parent_pid = parent_pid
        self._work: psycopg.Connection | None = None
        self._listen: ListenConnection | None = None
        self._ping = PingCheck(self.listener_id)
        self._sweep = Every(config.sweep_seconds)
        self._beat = Every(config.heartbeat_seconds)
        self._check_listen = Every(config.ping_seconds)
        self._poll = Every(config.poll_seconds)
        self._registered = False
        self._refresh_pending = False
        # Claim at once after every (re)connect: rows may have arrived while nobody was LISTENing.
        self._work_hint = True
        # Explanations are claimed for a sweep interval after one was asked for (its answer may still
        # be coming), once per sweep as the catch-all, and on every turn with --poll-only.
        self._explain_until = 0.0
        self._explain_once = True
        # Batches whose outcome is not written yet (connection lost, or in flight on the recorder):
        # written after reconnecting, or on the way out. Recording is idempotent (closed rows are skipped).
        self._unrecorded: list[BatchOutcome] = []
        # backlog_claim = lease: a full batch's outcome is written on a connection of its own while the next
        # batches are claimed and inferred, up to record_writers batches at once (listener/recorder.py).
        self._recorder = BackgroundRecorder(config.database_url, self.listener_id, config.record_writers)
        # The last claim filled its batch: a backlog is waiting. With backlog_claim = lease (the default)
        # its rows are then claimed (committed, under a lease) before their inference; otherwise, and
        # whenever no backlog waits, claim, inference and outcome share one short transaction.
        self._backlog = False
        # Claims look at ids from here up (pending_floor: the oldest partition epoch that holds a pending
        # or running row), so they plan and lock one partition, not all; set again on every sweep, which
        # also runs after each (re)connect. 0 (every partition) until the first.
        self._from_id = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the registry and load the models, then connect (retrying with backoff until the database
        answers). The heartbeat row appears once the listener is LISTENing with its models loaded."""
        use_fast_json()  # the claimed rows' features are decoded from jsonb on every batch
        if self._registry is None:
            from model_store.registry import open_registry

            self._registry = open_registry(self.config.database_url)
        log.info(
            "listener %s starting (%s mode, batch %d, lease %.0fs, backlog claimed by %s, sweep %.0fs)",
            self.listener_id,
            self.config.mode,
            self.config.batch_size,
            self.config.lease_seconds,
            self.config.backlog_claim,
            self.config.sweep_seconds,
        )
        self._warm_up()
        self._connect_with_backoff()
        if self._freeze_startup_heap:
            freeze_heap()

    def _warm_up(self) -> None:
        # Load and verify every deployed model before the first request, not during it. The registry
        # reads deployments on its own connection; if that fails, models load on first use instead.
        assert self._registry is not None
        try:
            failed = warm_up(self._registry)
        except CONNECTION_LOST as exc:
            failed = {"*": first_line(exc)}
        for name, error in failed.items():
            log.warning("listener %s: model %s cannot be loaded now: %s", self.listener_id, name, error)

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and return. Safe to call from a signal handler."""
        self.shutdown.set()

    def run(self) -> None:
        """start(), then loop until stop(); on the way out release what is held and mark the heartbeat."""
        try:
            self.start()
            while not self.shutdown.is_set():
                try:
                    self._step()
                except RECONNECT_ON as exc:
                    log.warning(
                        "listener %s lost the database (%s); reconnecting", self.listener_id, first_line(exc)
                    )
                    self._close_connections()
                    self._connect_with_backoff()
        finally:
            self._finish()

    # -- one turn of the loop ----------------------------------------------------------------------

    def _step(self) -> None:
        if not self._continues_leased_backlog():
            self._finish_recording()  # the batches in flight are written before anything else is done
        self._run_due_chores()
        if self._listen is not None:
            # Between batches too: a long drain must not leave notifications (and pings, promotions)
            # piling up unread in the socket. One non-blocking poll, no round trip.
            self._handle(self._listen.read())
        if self._work_hint:
            if self._process_one_batch():
                return  # drain: claim again at once while rows keep coming
            self._work_hint = False
        self._wait_for_work()

    def _continues_leased_backlog(self) -> bool:
        return self._work_hint and self._backlog and self.config.backlog_claim == "lease"

    def _process_one_batch(self) -> bool:
        assert self._work is not None and self._registry is not None
        if self._backlog and self.config.backlog_claim == "lease":
            claims = claim_pending(
                self._work,
                self.listener_id,
                self.config.batch_size,
                self.config.lease_seconds,
                self._from_id,
            )
            outcome = infer_batch(self._registry, claims, self.shutdown.is_set) if claims else None
            if outcome is not None:
                self._unrecorded.append(outcome)  # kept if the wait below finds the connection lost
            behind = (
                outcome is not None
                and self.config.record_in_background
                and len(claims) >= self.config.batch_size
            )
            # This batch is claimed and inferred: now take the earlier writes (they ran meanwhile), the
            # oldest first, until a writer is free for this one; all of them if it is written here.
            self._finish_recording(keep=self._recorder.writers - 1 if behind else 0)
            if outcome is not None:
                if behind:
                    # More backlog behind it: write it while the next batch is claimed and inferred; its
                    # post-commit work runs once its write is taken (_finish_recording).
                    self._recorder.submit(claims, outcome)
                    outcome = None
                else:
                    self._record(outcome)
        else:
            claims, outcome = self._claim_infer_record()
        self._backlog = len(claims) >= self.config.batch_size
        if outcome is not None:
            self._after_commit(claims, outcome)
        # Then the explanations asked for (after the answers: they may be waiting for one of these).
        explained = self._explanations_due() and self.explanations.process_one_batch(self._work)
        # A claim short of the batch size took every claimable row: rows committed after it sent their
        # own notification (or the next poll finds them), so no empty claim is needed to find out.
        return len(claims) >= self.config.batch_size or explained

    def _after_commit(self, claims: list[Claim], outcome: BatchOutcome) -> None:
        # After the commit: the challengers never delay nor fail the answers just written.
        assert self._work is not None and self._registry is not None
        self.shadows.score(self._work, self._registry, claims, outcome)
        if outcome.failed_ids:
            self._publish_availability()  # a model may have been refused on first use
        self.explanations.explain_answers(self._work, claims, outcome)

    def _finish_recording(self, keep: int = 0) -> None:
        """Take the batches the recorder was writing, oldest first, until at most `keep` are in flight:
        count each and do its post-commit work, fail its rows if the database refused it, or reconnect
        (its outcome is kept in _unrecorded; the later ones are taken as the connections close)."""
        while self._recorder.in_flight > keep:
            taken = self._recorder.take()
            assert taken is not None
            self._taken(taken)

    def _taken(self, taken: Taken) -> None:
        if taken.error is not None:
            if isinstance(taken.error, CONNECTION_LOST) or not isinstance(taken.error, psycopg.DatabaseError):
                raise taken.error
            self._record_refused(taken.outcome, taken.error)
        else:
            assert taken.recorded is not None
            self._recorded(taken.outcome, taken.recorded)
        self._after_commit(taken.claims, taken.outcome)

    def _explanations_due(self) -> bool:
        if self._listen is None or self._explain_once or time.monotonic() < self._explain_until:
            self._explain_once = False
            return True
        return False

    def _claim_infer_record(self) -> tuple[list[Claim], BatchOutcome | None]:
        """No backlog (or backlog_claim = transaction): lock the pending rows, infer and record in one short
        transaction, so each row is written once (pending to completed) instead of twice (claimed, then
        completed), with one commit.
        Dying before the commit leaves the rows pending (never claimed); stalling in the transaction ends
        the session after one lease (limit_idle_transactions), which frees them the same way."""
        assert self._work is not None and self._registry is not None
        claims: list[Claim] = []
        outcome: BatchOutcome | None = None
        try:
            with self._work.transaction():
                claims = lock_pending(self._work, self.config.batch_size, self._from_id)
                if not claims:
                    return claims, None
                outcome = infer_batch(self._registry, claims, self.shutdown.is_set)
                self._unrecorded.append(outcome)
                recorded = record_outcomes(self._work, self.listener_id, outcome)
        except (*CONNECTION_LOST, psycopg.errors.IdleInTransactionSessionTimeout):
            raise  # the outcome is kept in _unrecorded, written after the reconnect
        except psycopg.DatabaseError as exc:
            if outcome is None or self._work.broken:
                raise
            # Rolled back: the rows are pending again; fail them with the reason, as _record does.
            self._record_refused(outcome, exc)
            return claims, outcome
        self._recorded(outcome, recorded)
        return claims, outcome

    def _record(self, outcome: BatchOutcome) -> None:
        assert self._work is not None
        if not any(o is outcome for o in self._unrecorded):
            self._unrecorded.append(outcome)
        try:
            recorded = record_outcomes(self._work, self.listener_id, outcome)
        except CONNECTION_LOST:
            raise  # kept in _unrecorded, written after the reconnect
        except psycopg.DatabaseError as exc:
            self._record_refused(outcome, exc)
            return
        self._recorded(outcome, recorded)

    def _recorded(self, outcome: BatchOutcome, recorded: Recorded) -> None:
        self._unrecorded = [o for o in self._unrecorded if o is not outcome]
        self.heartbeat.count(recorded.completed, recorded.failed)

    def _record_refused(self, outcome: BatchOutcome, exc: psycopg.DatabaseError) -> None:
        """The database refused the batch (a bug, a constraint): fail its rows with the reason rather
        than release them to be claimed, and refused, forever."""
        assert self._work is not None
        log.exception("listener %s could not record a batch; failing its rows", self.listener_id)
        fallback = BatchOutcome()
        ids = outcome.result_ids + outcome.failed_ids
        fallback.add_failures(ids, f"could not record the outcome: {describe(exc)}")
        fallback.add_released(outcome.released_ids)
        recorded = record_outcomes(self._work, self.listener_id, fallback)
        self._recorded(outcome, recorded)

    def _wait_for_work(self) -> None:
        """Block until a notification, a due chore or stop(); never longer than the sweep interval.
        Quiet for IDLE_BEAT_SECONDS with totals unwritten: write them (a drained queue shows fresh ones)."""
        assert self._work is not None
        timeout = min(self._sweep.remaining(), self._beat.remaining())
        if self.heartbeat.unwritten():
            timeout = min(timeout, IDLE_BEAT_SECONDS)
        if self._listen is None:
            self.shutdown.wait(min(timeout, self._poll.remaining()))
        else:
            timeout = min(timeout, self._check_listen.remaining())
            # _step has just read what was pending, so block until the socket has more to say.
            if self.shutdown.wait(timeout, [self._listen.fileno()]):
                self._handle(self._listen.read())
        if not self._work_hint and not self.shutdown.is_set():
            self.heartbeat.beat_if_changed(self._work)

    def _handle(self, wakes: Wakes) -> None:
        self._ping.received(wakes.pings)
        if wakes.promoted:
            self._refresh_registry()
        if wakes.requested:
            self._work_hint = True
        if wakes.explain:
            self._explain_until = time.monotonic() + self.config.sweep_seconds

    # -- chores ------------------------------------------------------------------------------------

    def _run_due_chores(self) -> None:
        assert self._work is not None
        if self._sweep.due():
            self._sweep_leases()
            if self._listen is None or self._refresh_pending:
                self._refresh_registry()  # --poll-only hears no model_promoted: look on each sweep
            self._sweep.done()
        if self._beat.due():
            self.heartbeat.beat(self._work)
            self._retry_refused_models()
            self._beat.done()
            self._stop_if_orphaned()
        if self._listen is not None and self._check_listen.due():
            self._check_listen_connection()
            self._check_listen.done()
        if self._listen is None and self._poll.due():
            self._work_hint = True
            self._poll.done()

    def _sweep_leases(self) -> None:
        assert self._work is not None
        swept = sweep_expired_leases(self._work, self.config.max_attempts)
        # After the sweep: the rows it requeued, and rows another listener released, are at or above it.
        self._from_id = pending_floor(self._work)
        if swept.requeued or swept.failed:
            log.info(
                "listener %s: %d expired lease(s) requeued, %d failed after %d attempts",
                self.listener_id,
                swept.requeued,
                swept.failed,
                self.config.max_attempts,
            )
        self.heartbeat.count(0, swept.failed)
        if self._registry is not None:
            # Shadow rows a killed listener (or a crashed server) never wrote for answered requests.
            self.shadows.catch_up(self._work, self._registry)
        if self._listen is not None or swept.requeued:
            # The sweep doubles as the catch-all for missed notifications. With --poll-only the poll
            # interval alone decides when to look, so polling at 5 s really means every 5 s.
            self._work_hint = True
            self._explain_once = True

    def _check_listen_connection(self) -> None:
        """The previous ping must have come back; then send the next one from the work connection."""
        assert self._work is not None and self._listen is not None
        self._handle(self._listen.read())  # it may sit unread behind a long drain
        if self._ping.outstanding is not None:
            raise ListenConnectionSilent(
                f"ping {self._ping.outstanding} not delivered within {self.config.ping_seconds:g}s"
            )
        self._work.execute(QUERIES["send_listener_ping"], {"token": self._ping.next_token()})

    def _refresh_registry(self) -> None:
        assert self._registry is not None
        try:
            self._registry.refresh()
            self._refresh_pending = False
        except Exception:
            # Keep serving the versions already loaded; try again on the next sweep.
            log.exception("listener %s could not refresh the model registry", self.listener_id)
            self._refresh_pending = True
        if self._work is not None:
            self.shadows.refresh(self._work)
        self._publish_availability()

    def _retry_refused_models(self) -> None:
        """Load again the models refused earlier whose backoff has passed (the file may be restored)."""
        assert self._registry is not None
        for name in self._registry.retry_due():
            log.info("listener %s: model %s loads again", self.listener_id, name)
        self._publish_availability()

    def _publish_availability(self) -> None:
        assert self._registry is not None
        if self._work is None:
            return
        try:
            states = self._registry.availability()
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # deployments unreadable: published once they are
            log.debug("listener %s: no model availability to publish (%s)", self.listener_id, exc)
            return
        try:
            self.availability.publish(self._work, states)
        except CONNECTION_LOST:
            raise
        except psycopg.DatabaseError as exc:  # e.g. schema file 006 not applied: serve anyway
            log.warning("listener %s could not publish model availability: %s", self.listener_id, exc)

    def _stop_if_orphaned(self) -> None:
        # A --concurrency worker whose supervisor died (SIGKILL) must not run on unsupervised.
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            log.warning("listener %s: supervisor %d is gone; stopping", self.listener_id, self._parent_pid)
            self.stop()

    # -- connections -------------------------------------------------------------------------------

    def _connect_with_backoff(self) -> None:
        backoff = Backoff(cap=self.config.reconnect_max_seconds)
        reconnecting = self._registered
        while not self.shutdown.is_set():
            try:
                self._connect()
                if reconnecting or backoff.failures:
                    log.info(
                        "listener %s connected again after %d failed attempt(s); draining the backlog",
                        self.listener_id,
                        backoff.failures,
                    )
                return
            except CONNECTION_LOST as exc:
                self._close_connections()
                delay = backoff.next_delay()
                log.warning(
                    "listener %s cannot reach the database (%s); retrying in %.2fs",
                    self.listener_id,
                    first_line(exc),
                    delay,
                )
                self.shutdown.sleep(delay)

    def _connect(self) -> None:
        """Work connection, then LISTEN, then recover: after this, anything committed wakes us, and the
        first claim (the hint is set) finds whatever was committed before."""
        self._work = connect(self.config.database_url, f"listener {self.listener_id}")
        limit_idle_transactions(self._work, self.config.lease_seconds)
        if not self.config.poll_only:
            self._listen = ListenConnection.open(
                self.config.database_url, f"listener {self.listener_id} LISTEN"
            )
        for outcome in list(self._unrecorded):
            self._record(outcome)
        released = release_own_claims(self._work, self.listener_id)
        if released:
            log.info(
                "listener %s gave back %d claim(s) it held before connecting", self.listener_id, released
            )
        self.availability.forget()
        if self._registered:
            self.heartbeat.beat(self._work)
            self._refresh_registry()  # a model_promoted may have been missed while disconnected
        else:
            self.heartbeat.register(self._work)
            self._registered = True
            self.shadows.refresh(self._work)
            self._publish_availability()
        self._sweep_leases()
        self._sweep.done()
        self._beat.done()
        self._ping.reset()
        self._check_listen.done()
        self._work_hint = True

    def _close_connections(self) -> None:
        for taken in self._recorder.close():
            if taken.recorded is not None:
                # Written before the connection went: counted; its post-commit work is left to the sweeps'
                # catch-up (shadows) and the explanation claims, as for a listener killed at that point.
                self._recorded(taken.outcome, taken.recorded)
        if self._listen is not None:
            self._listen.close()
        close_quietly(self._work)
        self._listen = None
        self._work = None

    def _finish(self) -> None:
        """Record the batch in hand if it is still unwritten, give back every claim, mark stopped."""
        try:
            if self._work is not None and not self._work.closed:
                self._finish_recording()
                for outcome in list(self._unrecorded):
                    self._record(outcome)
                released = release_own_claims(self._work, self.listener_id)
                self.heartbeat.stopped(self._work)
                log.info(
                    "listener %s stopped (processed %d, failed %d, released %d)",
                    self.listener_id,
                    self.heartbeat.processed,
                    self.heartbeat.failed,
                    released,
                )
        except psycopg.Error as exc:
            log.warning(
                "listener %s could not release its claims on the way out (%s); their leases will expire",
                self.listener_id,
                exc,
            )
        finally:
            self._close_connections()


def freeze_heap() -> None:
    """Collect the start-up garbage once, then keep what survives out of every later collection:
    the collector's passes then walk only the objects made since (gc.freeze)."""
    gc.collect()
    gc.freeze()


def shadow_scoring(listener_id: str, registry: ModelRegistry | None) -> ShadowScoring:
    """Shadows loaded from the settings' model store; none for a test's own registry, which has no
    artifacts to load them from."""
    if registry is not None:
        return ShadowScoring(listener_id, None)
    from model_store.shadows import ShadowModels, artifact_loader
    from sql.settings import get_settings

    settings = get_settings()
    return ShadowScoring(listener_id, ShadowModels(artifact_loader(settings.model_store_dir)))
