import time

from ledger.ids import uuid7


def test_uuid7_has_version_7_and_the_rfc_variant():
    value = uuid7()
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"


def test_uuid7_is_strictly_increasing_within_a_process():
    values = [uuid7() for _ in range(20_000)]  # many per millisecond
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_uuid7_carries_the_creation_millisecond():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after + 1  # +1: a counter overflow borrows ahead
