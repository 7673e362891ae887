"""Tamper evidence: a SHA-256 hash chain over posted transactions.

When a transaction becomes posted, a database trigger puts it in
``journal_seal_queue`` within the same database transaction, so no posted
transaction escapes the queue. Later (a scheduled job), :func:`seal_batch`
takes queued transactions in id (creation) order and appends a link per transaction:

    hash = sha256(previous_hash || "\\n" || canonical_json(transaction))

where the canonical form holds every stored column of the transaction and of
its postings. Posting never waits for sealing: the sealer locks only the
chain's head row. A transaction that commits late is sealed in the next batch,
so the chain's order is the order in which commits became visible.

:func:`verify_chain` recomputes every link from the rows as they are now and
names the first transaction whose content changed, which was deleted, whose
link was altered, or which is posted but neither sealed nor queued (inserted
behind the journal's back).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from ledger.clock import ensure_utc
from ledger.db import Database
from ledger.journal import queries
from ledger.journal.models import GENESIS_HASH, Seal, SealHead, SealQueueEntry, Transaction
from ledger.journal.types import TransactionRecord
from ledger.journal.validation import canonical_json, iso
from ledger.limits import SEAL_BATCH_SIZE

seals = Seal.__table__
seal_head = SealHead.__table__
seal_queue = SealQueueEntry.__table__
transactions = Transaction.__table__

VERIFY_CHUNK = 1_000


def canonical_transaction(record: TransactionRecord) -> dict[str, Any]:
    """Every stored field of a posted transaction and its postings, as plain JSON."""
    return {
        "id": str(record.id),
        "status": record.status,
        "client_id": record.client_id,
        "idempotency_key": record.idempotency_key,
        "description": record.description,
        "effective_at": iso(record.effective_at),
        "created_at": iso(record.created_at),
        "expires_at": iso(record.expires_at),
        "resolved_at": iso(record.resolved_at),
        "reverses_id": None if record.reverses_id is None else str(record.reverses_id),
        "pending_id": None if record.pending_id is None else str(record.pending_id),
        "metadata": record.metadata,
        "postings": [
            [p.leg, p.account_id, p.direction, p.amount_minor, p.currency, iso(p.effective_at)]
            for p in record.postings
        ],
    }


def link_hash(previous_hash: str, record: TransactionRecord) -> str:
    content = canonical_json(canonical_transaction(record))
    return hashlib.sha256(f"{previous_hash}\n{content}".encode()).hexdigest()


def seal_batch(connection: Connection, *, now: datetime, limit: int = SEAL_BATCH_SIZE) -> int:
    """Seal up to ``limit`` queued transactions; return how many were sealed."""
    head = connection.execute(select(seal_head).where(seal_head.c.id == 1).with_for_update()).one()
    queued = connection.execute(
        select(seal_queue.c.transaction_id).order_by(seal_queue.c.transaction_id).limit(limit)
    ).all()
    if not queued:
        return 0
    records = {
        r.id: r for r in queries.load_transactions(connection, [q.transaction_id for q in queued])
    }
    sequence, previous = head.sequence, head.hash
    rows = []
    sealed_at = ensure_utc(now)
    for entry in queued:
        record = records[entry.transaction_id]
        assert record.status == "posted", f"queued transaction {record.id} is {record.status}"
        sequence += 1
        current = link_hash(previous, record)
        rows.append(
            {
                "sequence": sequence,
                "transaction_id": record.id,
                "previous_hash": previous,
                "hash": current,
                "sealed_at": sealed_at,
            }
        )
        previous = current
    connection.execute(insert(seals), rows)
    connection.execute(
        delete(seal_queue).where(
            seal_queue.c.transaction_id.in_([q.transaction_id for q in queued])
        )
    )
    connection.execute(
        update(seal_head)
        .where(seal_head.c.id == 1)
        .values(sequence=sequence, hash=previous, sealed_at=sealed_at)
    )
    return len(rows)


def seal_all(database: Database, *, now: datetime, limit: int = SEAL_BATCH_SIZE) -> int:
    """Seal everything queued, one database transaction per batch."""
    total = 0
    while True:
        sealed = database.run(lambda connection: seal_batch(connection, now=now, limit=limit))
        total += sealed
        if sealed < limit:
            return total


Problem = Literal["changed", "missing", "chain_broken", "head_mismatch", "unsealed"]


@dataclass(frozen=True)
class Verification:
    ok: bool
    links_checked: int
    problem: Problem | None = None
    transaction_id: uuid.UUID | None = None
    sequence: int | None = None
    detail: str = ""


def verify_chain(connection: Connection) -> Verification:
    """Recompute the chain; report the first problem found, in chain order."""
    previous = GENESIS_HASH
    checked = 0
    last_sequence = 0
    while True:
        links = connection.execute(
            select(seals)
            .where(seals.c.sequence > last_sequence)
            .order_by(seals.c.sequence)
            .limit(VERIFY_CHUNK)
        ).all()
        if not links:
            break
        records = {
            r.id: r
            for r in queries.load_transactions(connection, [link.transaction_id for link in links])
        }
        for position, link in enumerate(links):
            if link.sequence != last_sequence + 1 or link.previous_hash != previous:
                return Verification(
                    False,
                    checked,
                    "chain_broken",
                    link.transaction_id,
                    link.sequence,
                    "the link does not follow the one before it",
                )
            record = records.get(link.transaction_id)
            if record is None:
                return Verification(
                    False,
                    checked,
                    "missing",
                    link.transaction_id,
                    link.sequence,
                    "a sealed transaction is gone from the journal",
                )
            if link_hash(previous, record) != link.hash:
                # If the next link still vouches for this hash, the seal is as
                # written and the transaction changed; otherwise the seal was.
                following = _hash_after(connection, links, position)
                if following is not None and following != link.hash:
                    return Verification(
                        False,
                        checked,
                        "chain_broken",
                        link.transaction_id,
                        link.sequence,
                        "the seal was rewritten: the next link does not vouch for it",
                    )
                return Verification(
                    False,
                    checked,
                    "changed",
                    link.transaction_id,
                    link.sequence,
                    "the transaction's stored content no longer matches its seal",
                )
            previous = link.hash
            last_sequence = link.sequence
            checked += 1
    head = connection.execute(select(seal_head).where(seal_head.c.id == 1)).one()
    if head.sequence != last_sequence or head.hash != previous:
        return Verification(
            False,
            checked,
            "head_mismatch",
            None,
            head.sequence,
            "the chain's head does not match its last link",
        )
    unsealed = connection.execute(
        select(transactions.c.id)
        .where(
            transactions.c.status == "posted",
            ~select(seals.c.transaction_id)
            .where(seals.c.transaction_id == transactions.c.id)
            .exists(),
            ~select(seal_queue.c.transaction_id)
            .where(seal_queue.c.transaction_id == transactions.c.id)
            .exists(),
        )
        .order_by(transactions.c.id)
        .limit(1)
    ).scalar()
    if unsealed is not None:
        return Verification(
            False,
            checked,
            "unsealed",
            unsealed,
            None,
            "a posted transaction is neither sealed nor queued for sealing",
        )
    return Verification(True, checked)


def _hash_after(connection: Connection, links: Sequence[Row[Any]], position: int) -> str | None:
    """What the link after ``links[position]`` (or the head) says its hash was."""
    if position + 1 < len(links):
        return str(links[position + 1].previous_hash)
    following = connection.execute(
        select(seals.c.previous_hash).where(seals.c.sequence == links[position].sequence + 1)
    ).scalar()
    if following is not None:
        return str(following)
    head = connection.execute(select(seal_head).where(seal_head.c.id == 1)).one()
    return str(head.hash) if head.sequence == links[position].sequence else None


def queued_count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(seal_queue)).scalar_one())
