"""The money-moving POSTs build their response without marshmallow
(``transaction_json``); it must be exactly what the documented schema dumps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from api.resources.transactions import TransactionSchema, transaction_json, transaction_view
from ledger.journal.types import PostingRecord, TransactionRecord

SCHEMA = TransactionSchema()
WHEN = datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)

uuids = st.uuids()
maybe_uuid = st.none() | uuids
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
maybe_moment = st.none() | moments
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def record(**overrides: object) -> TransactionRecord:
    tid = uuid.uuid4()
    values: dict[str, object] = {
        "id": tid,
        "status": "posted",
        "description": "rent",
        "effective_at": WHEN,
        "created_at": WHEN + timedelta(seconds=1),
        "expires_at": None,
        "resolved_at": None,
        "reverses_id": None,
        "reversed_by_id": None,
        "pending_id": None,
        "captured_by_id": None,
        "client_id": "partner",
        "idempotency_key": "k",
        "metadata": {"ref": "x", "nested": {"a": [1, 2]}},
        "postings": (
            PostingRecord(tid, 0, 7, "debit", 150, "USD", WHEN),
            PostingRecord(tid, 1, 9, "credit", 150, "USD", WHEN),
        ),
    }
    values.update(overrides)
    return TransactionRecord(**values)  # type: ignore[arg-type]


def assert_same(item: TransactionRecord) -> None:
    direct = transaction_json(item)
    dumped = SCHEMA.dump(transaction_view(item))
    assert direct == dumped
    assert json.dumps(direct, sort_keys=True) == json.dumps(dumped, sort_keys=True)


def test_a_posted_transaction_is_dumped_as_the_schema_does():
    assert_same(record())


def test_every_optional_member_set_and_other_currencies():
    tid = uuid.uuid4()
    assert_same(
        record(
            id=tid,
            status="pending",
            expires_at=WHEN + timedelta(days=1),
            resolved_at=WHEN.astimezone(timezone(timedelta(hours=5))),
            reverses_id=uuid.uuid4(),
            reversed_by_id=uuid.uuid4(),
            pending_id=uuid.uuid4(),
            captured_by_id=uuid.uuid4(),
            metadata={},
            postings=(
                PostingRecord(tid, 0, 1, "debit", 5, "JPY", WHEN),
                PostingRecord(tid, 1, 2, "credit", 5, "JPY", WHEN),
                PostingRecord(tid, 2, 3, "debit", 1234567, "KWD", WHEN),
                PostingRecord(tid, 3, 4, "credit", 1234567, "KWD", WHEN),
                PostingRecord(tid, 4, 2**63 - 1, "debit", 10**18, "USD", WHEN),
                PostingRecord(tid, 5, 6, "credit", 10**18, "USD", WHEN),
            ),
        )
    )


@given(
    status=st.sampled_from(["posted", "pending", "voided", "archived"]),
    description=st.text(max_size=20),
    effective_at=moments,
    expires_at=maybe_moment,
    resolved_at=maybe_moment,
    links=st.tuples(maybe_uuid, maybe_uuid, maybe_uuid, maybe_uuid),
    metadata=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    amounts=st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=4),
)
def test_any_record_is_dumped_as_the_schema_does(
    status, description, effective_at, expires_at, resolved_at, links, metadata, amounts
):
    tid = uuid.uuid4()
    postings = tuple(
        PostingRecord(tid, leg, leg + 1, "debit" if leg % 2 else "credit", amount, "USD", WHEN)
        for leg, amount in enumerate(amounts)
    )
    assert_same(
        record(
            id=tid,
            status=status,
            description=description,
            effective_at=effective_at,
            created_at=effective_at,
            expires_at=expires_at,
            resolved_at=resolved_at,
            reverses_id=links[0],
            reversed_by_id=links[1],
            pending_id=links[2],
            captured_by_id=links[3],
            metadata=metadata,
            postings=postings,
        )
    )
