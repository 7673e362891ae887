"""Every table of the service, imported in one place for Alembic and tests."""

from ledger.access.models import ApiKey, IdempotentRequest, Principal
from ledger.journal.models import Account, Posting, Seal, SealHead, SealQueueEntry, Transaction
from ledger.parties.models import Customer, PartnerAccount

__all__ = [
    "Account",
    "ApiKey",
    "Customer",
    "IdempotentRequest",
    "PartnerAccount",
    "Posting",
    "Principal",
    "Seal",
    "SealHead",
    "SealQueueEntry",
    "Transaction",
]
