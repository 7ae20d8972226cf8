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


def test_a_batch_of_ids_is_uuid7_and_unique() -> None:
    from service.ids import new_request_ids

    ids = new_request_ids(10_000)
    assert len(ids) == len(set(ids)) == 10_000
    assert {i.version for i in ids} == {7} and {i.variant for i in ids} == {"specified in RFC 4122"}
    time.sleep(0.002)
    assert max(ids) < new_request_id()
