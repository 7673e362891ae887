"""Errors of the payment providers' side (mapped to HTTP in ``api.errors``)."""

from __future__ import annotations

from ledger.errors import LedgerError, NotFound, ValidationFailed


class ProviderUnavailable(LedgerError):
    """The provider is not configured here (no keys) or not known."""

    code = "provider_unavailable"


class ProviderFailed(LedgerError):
    """The provider's API did not answer, or answered an error: nothing was written;
    the same call again is safe."""

    code = "provider_error"


class InvalidSignature(LedgerError):
    """A provider's event whose signature does not verify (tampered, too old, signed
    with another secret, or unsigned): refused, nothing stored."""

    code = "invalid_signature"


class CollectionNotFound(NotFound):
    code = "collection_not_found"


class UnsupportedCurrency(ValidationFailed):
    """The provider cannot collect this currency exactly as the ledger counts it."""

    code = "provider_currency_unsupported"


class SettlementMismatch(ValidationFailed):
    """What the provider reported does not agree with the ledger (another amount or
    currency than the contribution's, more returned than received). Never booked as
    reported and never corrected silently: the event is kept as failed for people."""

    code = "settlement_mismatch"


class PayoutNotFound(NotFound):
    code = "payout_not_found"
