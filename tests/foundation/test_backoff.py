"""The one backoff (sql/backoff.py): doubling from its base, capped, jittered in [d/2, d], and it keeps
answering however long the database stays away."""

from __future__ import annotations

import random

from sql.backoff import Backoff


def test_delays_double_from_the_base_up_to_the_cap_and_reset_starts_over() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for ceiling in ceilings:
        assert ceiling / 2 <= backoff.next_delay() <= ceiling
    backoff.reset()
    assert 0.05 <= backoff.next_delay() <= 0.1


def test_a_very_long_outage_still_gets_capped_delays() -> None:
    backoff = Backoff(base=0.1, cap=5.0)
    delays = [backoff.next_delay() for _ in range(2000)]  # 2**2000 would not convert to a float
    assert all(2.5 <= d <= 5.0 for d in delays[10:])
