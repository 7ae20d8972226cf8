"""`--concurrency K`: K worker processes, each a full listener with its own connections and id."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess

from listener.config import ListenerConfig
from listener.connection import Backoff
from listener.logs import configure_logging
from listener.shutdown import ShutdownEvent

log = logging.getLogger("listener")

STOP_GRACE_SECONDS = 30.0
# A worker that ran this long before dying is restarted without delay growth.
HEALTHY_RUN_SECONDS = 60.0


def install_signal_handlers(shutdown: ShutdownEvent) -> None:
    """SIGTERM and Ctrl-C both mean: finish the batch in hand, release the rest, exit 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: shutdown.set())


def run_single(config: ListenerConfig, parent_pid: int | None = None) -> int:
    """Run one listener in this process until SIGTERM / SIGINT."""
    # Handlers first: a stop during the slow imports below still ends in a clean exit 0.
    shutdown = ShutdownEvent()
    install_signal_handlers(shutdown)
    # Imported here: the --concurrency supervisor never loads models, so it never imports sklearn.
    from listener.daemon import Listener

    Listener(config, parent_pid=parent_pid, shutdown=shutdown, freeze_startup_heap=True).run()
    return 0


def _worker_main(config: ListenerConfig, parent_pid: int) -> None:
    configure_logging()
    raise SystemExit(run_single(config, parent_pid))


class Supervisor:
    """Starts the workers, restarts one that dies, and on SIGTERM / SIGINT stops them all gracefully."""

    def __init__(self, config: ListenerConfig) -> None:
        self.config = config
        self.shutdown = ShutdownEvent()
        # spawn, not fork: a fresh interpreter per worker, no inherited sockets, locks or OpenMP state.
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, BaseProcess] = {}
        self._started_at: dict[int, float] = {}
        self._backoff: dict[int, Backoff] = {}

    def _spawn(self, index: int) -> None:
        process = self._context.Process(
            target=_worker_main,
            args=(self.config.for_worker(index), os.getpid()),
            name=f"listener-worker-{index}",
        )
        process.start()
        self._workers[index] = process
        self._started_at[index] = time.monotonic()

    def run(self) -> int:
        install_signal_handlers(self.shutdown)
        for index in range(self.config.concurrency):
            self._spawn(index)
        log.info("listener supervisor %d started %d workers", os.getpid(), self.config.concurrency)
        while not self.shutdown.is_set():
            self.shutdown.wait(None, [p.sentinel for p in self._workers.values()])
            for index, process in list(self._workers.items()):
                if not process.is_alive() and not self.shutdown.is_set():
                    self._restart(index, process)
        return self._stop_all()

    def _restart(self, index: int, process: BaseProcess) -> None:
        process.join()
        backoff = self._backoff.setdefault(index, Backoff(base=1.0, cap=30.0))
        if time.monotonic() - self._started_at[index] > HEALTHY_RUN_SECONDS:
            backoff.reset()
        delay = backoff.next_delay()
        log.error(
            "listener worker %d exited with code %s; restarting in %.1fs", index, process.exitcode, delay
        )
        self.shutdown.sleep(delay)
        if not self.shutdown.is_set():
            self._spawn(index)

    def _stop_all(self) -> int:
        for process in self._workers.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self._workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error(
                    "listener worker %s did not stop in %.0fs; killing it", process.name, STOP_GRACE_SECONDS
                )
                process.kill()
                process.join()
        codes = [p.exitcode for p in self._workers.values()]
        log.info("listener supervisor %d stopped; worker exit codes %s", os.getpid(), codes)
        return 0 if all(code == 0 for code in codes) else 1


def run_workers(config: ListenerConfig) -> int:
    """Run `config.concurrency` workers (or one listener in this process when it is 1)."""
    if config.concurrency == 1:
        return run_single(config)
    return Supervisor(config).run()
