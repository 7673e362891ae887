"""Every table of the service, imported in one place for Alembic and tests."""

from ledger.journal.models import Account, Posting, Seal, SealHead, SealQueueEntry, Transaction

__all__ = ["Account", "Posting", "Seal", "SealHead", "SealQueueEntry", "Transaction"]
