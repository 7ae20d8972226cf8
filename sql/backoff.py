"""The one backoff of the processes: the listener's reconnects and workers, the API's LISTEN loop."""

from __future__ import annotations

import random


class Backoff:
    """Exponential backoff with jitter: base, 2×base, 4×base… capped, each delay drawn in [d/2, d].

    The jitter keeps many processes that lost the same server from reconnecting in lockstep."""

    def __init__(self, base: float = 0.05, cap: float = 5.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        # The exponent stops growing long past the cap: 2**1024 would not convert to a float.
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 64))
        self.failures += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
