"""Public request ids are time-ordered UUIDv7, so inserts stay on the hot end of the unique index."""

from __future__ import annotations

import time

from service.ids import new_request_id


def test_request_ids_are_uuid7_and_ordered_by_time() -> None:
    first = new_request_id()
    time.sleep(0.002)
    second = new_request_id()
    assert first.version == 7 and second.version == 7
    assert first.variant == second.variant == "specified in RFC 4122"
    assert first < second
    assert len({new_request_id() for _ in range(10_000)}) == 10_000
